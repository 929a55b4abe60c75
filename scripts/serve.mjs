// A tiny static file server for the browser tests: loopback only, a random port, a few folders mapped to URL
// prefixes, nothing outside them (no directory listings, no '..').
import { createReadStream, existsSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

export interface StaticServer {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  /** Requests that were answered 404 (a test can report them). */
  readonly missing: string[];
  close(): Promise<void>;
}

/** Serve `routes` (URL prefix ending in '/' → folder) on 127.0.0.1 at a port the OS picks. */
export async function serveStatic(routes: Record<string, string>): Promise<StaticServer> {
  const missing: string[] = [];
  const prefixes = Object.entries(routes).sort((a, b) => b[0].length - a[0].length);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let path: string | null = null;
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
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    missing,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
