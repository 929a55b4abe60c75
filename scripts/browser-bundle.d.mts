// Types of scripts/browser-bundle.mjs (imported by test/browser).
import type { BuildOptions, BuildResult, Plugin } from 'esbuild';

export const ROOT: string;
export const NOT_IN_BROWSERS: string;
export const rawText: Plugin;
export const nodePlatformStub: Plugin;
export const noNodeImports: Plugin;
export function browserOptions(extra?: BuildOptions): BuildOptions & { metafile: true };
export function checkBrowserOutputs(result: BuildResult<{ metafile: true }>): void;
export function fileSize(path: string): { raw: number; gzip: number };
export function kib(n: number): string;
export function buildBrowserDist(
  outdir?: string,
): Promise<{ bundle: string; size: { raw: number; gzip: number }; minSize: { raw: number; gzip: number }; exports: string[] }>;
