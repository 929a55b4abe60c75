// `npm run demo`: builds the browser distribution (library bundle, embedding example, demo page) and serves the
// checkout's web/ and dist/browser/ on http://127.0.0.1 (WebGPU needs a secure context; localhost is one).
// Options: --port N (default 8080; 0 picks a free one), --no-build (serve what dist/browser holds).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, buildBrowserDist, kib } from './browser-bundle.mjs';
import { serveStatic } from './serve.mjs';

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : Number(process.env.PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`demo: --port expects an integer 0..65535, got '${args[portArg + 1]}'`);
  process.exit(2);
}
const dist = join(ROOT, 'dist', 'browser');
if (!args.includes('--no-build')) {
  const t0 = performance.now();
  const lib = await buildBrowserDist(dist);
  console.log(`built dist/browser in ${((performance.now() - t0) / 1000).toFixed(1)} s (gelan-webgpu.js ${kib(lib.size.raw)}, gzip ${kib(lib.size.gzip)})`);
} else if (!existsSync(join(dist, 'demo', 'worker.js'))) {
  console.error('demo: dist/browser/demo is missing: run npm run build (or drop --no-build)');
  process.exit(2);
}
let server;
try {
  server = await serveStatic({ '/dist/browser/': dist, '/web/': join(ROOT, 'web') }, port);
} catch (e) {
  console.error(`demo: cannot listen on 127.0.0.1:${port}: ${e.message}${e.code === 'EADDRINUSE' ? ' (try --port 0)' : ''}`);
  process.exit(1);
}
console.log(`demo page:       ${server.origin}/web/demo/`);
console.log(`embedding demo:  ${server.origin}/web/embed/`);
console.log('open it in a browser with WebGPU (Chrome/Edge 113+); Ctrl+C stops the server');
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
