// Types of scripts/serve.mjs (imported by test/browser).
export interface StaticServer {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  /** Requests that were answered 404 (a test can report them). */
  readonly missing: string[];
  close(): Promise<void>;
}

/** Serve `routes` (URL prefix ending in '/' → folder) on 127.0.0.1 at `port` (default: one the OS picks). */
export function serveStatic(routes: Record<string, string>, port?: number): Promise<StaticServer>;
