// What a peer shim (bench/peers/<peer>.ts) provides to the harness, and the shared-device plumbing they use.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Case } from './cases';
import type { Prepared } from './harness';

export type PeerName = 'tfjs' | 'ort' | 'jax';

/** Host data of a case, NCHW / OIHW / row-major; each peer converts to its own layout before timing. */
export interface CaseData {
  readonly conv?: { x: Float32Array; w: Float32Array; dy: Float32Array };
  readonly matmul?: { a: Float32Array; b: Float32Array };
  readonly block?: {
    x: Float32Array;
    dy: Float32Array;
    /** Parameters in our module order: `cv1.conv.weight`, `cv1.bn.weight`, `cv1.bn.bias`, ... */
    weights: { name: string; shape: readonly number[]; data: Float32Array }[];
  };
}

export interface PeerContext {
  /** The shared device (instrumented for timestamp queries: see gpu-timer.ts). */
  readonly device: GPUDevice;
  readonly adapterInfo: GPUAdapterInfo;
}

export interface Peer {
  readonly name: PeerName;
  readonly version: string;
  /** What it took to run this peer on Dawn in Node (printed once). */
  readonly setup: readonly string[];
  /** A Prepared implementation of the case, or the reason the peer cannot express it. */
  prepare(c: Case, data: CaseData): Promise<Prepared | { skip: string }>;
  dispose(): Promise<void>;
}

export type PeerFactory = (ctx: PeerContext) => Promise<Peer>;

/**
 * `navigator = { gpu, userAgent }` for libraries that look for WebGPU there (Node 20 has no navigator). The
 * `gpu` object hands every requestDevice() the shared device, so a peer that insists on creating its own
 * device (jax-js) still gets ours. Installed before any peer is imported.
 */
export function installNavigator(shared: GPUDevice, adapter: GPUAdapter): void {
  const fakeAdapter = {
    features: adapter.features,
    limits: adapter.limits,
    info: adapter.info,
    isFallbackAdapter: false,
    requestDevice: async (): Promise<GPUDevice> => shared,
    requestAdapterInfo: async (): Promise<GPUAdapterInfo> => adapter.info,
  };
  const gpu = {
    requestAdapter: async (): Promise<unknown> => fakeAdapter,
    getPreferredCanvasFormat: (): GPUTextureFormat => 'rgba8unorm',
    wgslLanguageFeatures: new Set<string>(),
  };
  Object.defineProperty(globalThis, 'navigator', {
    value: { gpu, userAgent: `Node.js/${process.versions.node} (gelan-webgpu bench; Dawn)`, hardwareConcurrency: 2, language: 'en-US' },
    configurable: true,
    writable: true,
  });
}


/** The installed version of a package (read from its package.json, which some packages do not export). */
export function packageVersion(name: string, resolveFrom: string): string {
  const req = createRequire(resolveFrom);
  let dir = dirname(req.resolve(name));
  for (;;) {
    const f = join(dir, 'package.json');
    if (existsSync(f)) {
      const pkg = JSON.parse(readFileSync(f, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name) return pkg.version ?? '?';
    }
    const up = dirname(dir);
    if (up === dir) return '?';
    dir = up;
  }
}
