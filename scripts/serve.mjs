// A tiny static file server for the browser tests and `npm run demo`: loopback only, a few folders mapped to URL
// prefixes, nothing outside them (no directory listings, no '..'). Types: serve.d.mts.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
  '.jpg': 'image/jpeg',
};

/** Serve `routes` (URL prefix ending in '/' → folder) on 127.0.0.1 at `port` (default: one the OS picks). */
export async function serveStatic(routes, port = 0) {
  const missing = [];
  const prefixes = Object.entries(routes).sort((a, b) => b[0].length - a[0].length);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let path = null;
    const pathname = decodeURIComponent(url.pathname);
    for (const [prefix, dir] of prefixes) {
      if (!pathname.startsWith(prefix)) continue;
      const root = resolve(dir);
      let file = resolve(root, `.${sep}${pathname.slice(prefix.length)}`);
      if (file !== root && !file.startsWith(root + sep)) break; // escaped the folder
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (existsSync(file) && statSync(file).isFile()) path = file;
      break;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (!path && pathname === '/favicon.ico') {
      res.writeHead(204).end(); // browsers ask for it on every page
      return;
    }
    if (!path) {
      missing.push(pathname);
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${pathname}`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': statSync(path).size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const address = server.address();
  return {
    origin: `http://127.0.0.1:${address.port}`,
    missing,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
