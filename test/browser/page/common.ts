// What the browser test pages share: the result of one case, the environment report, and GPU error capture.
// Bundled into each page (test/browser/pages.ts); the Node side imports only the types.
import type { Device } from '../../../engine';

/** One case's outcome, as the page reports it to the Node test. */
export interface CaseResult {
  ok: boolean;
  ms: number;
  error?: string;
  /** Errors the GPU reported (error scopes, uncapturederror) while the case ran. */
  gpuErrors: string[];
  maxErr?: number;
}

export interface PageEnv {
  userAgent: string;
  adapter: { vendor: string; architecture: string; device: string; description: string };
  adapterFeatures: string[];
  /** Engine view of the device: features used and the limits in force. */
  features: { f16: boolean; subgroups: boolean; timestampQuery: boolean };
  limits: Record<string, number>;
}

const LIMITS = [
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupStorageSize', 'maxStorageBuffersPerShaderStage', 'maxStorageBufferBindingSize', 'maxBufferSize',
  'maxComputeWorkgroupsPerDimension', 'maxUniformBufferBindingSize', 'minUniformBufferOffsetAlignment', 'maxBindGroups',
] as const;

export async function describeEnv(dev: Device): Promise<PageEnv> {
  const adapter = await navigator.gpu.requestAdapter();
  const limits: Record<string, number> = {};
  for (const k of LIMITS) limits[k] = dev.limits[k];
  return {
    userAgent: navigator.userAgent,
    adapter: { ...dev.adapter },
    adapterFeatures: adapter ? [...adapter.features].sort() : [],
    features: { ...dev.features },
    limits,
  };
}

const errorText = (e: unknown): string => (e instanceof Error ? (e.stack ?? e.message) : String(e));

/**
 * Runs `fn` inside validation / out-of-memory / internal error scopes on `gpu` and listens for uncaptured errors,
 * so a kernel the adapter rejects shows up as a failed case with the GPU's message.
 */
export async function runCase(gpu: GPUDevice, fn: () => Promise<number | void>): Promise<CaseResult> {
  const gpuErrors: string[] = [];
  const onError = (ev: Event): void => void gpuErrors.push(`uncaptured ${(ev as GPUUncapturedErrorEvent).error.message}`);
  gpu.addEventListener('uncapturederror', onError);
  const filters: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
  for (const f of filters) gpu.pushErrorScope(f);
  const t0 = performance.now();
  let error: string | undefined;
  let maxErr: number | undefined;
  try {
    const r = await fn();
    if (typeof r === 'number') maxErr = r;
  } catch (e) {
    error = errorText(e);
  }
  const ms = performance.now() - t0;
  for (const f of [...filters].reverse()) {
    const e = await gpu.popErrorScope();
    if (e) gpuErrors.push(`${f}: ${e.message}`);
  }
  await gpu.queue.onSubmittedWorkDone();
  await new Promise((r) => setTimeout(r, 0)); // uncapturederror events are delivered as tasks
  gpu.removeEventListener('uncapturederror', onError);
  return { ok: error === undefined && gpuErrors.length === 0, ms, error, gpuErrors, maxErr };
}

export const pageError = errorText;

declare global {
  interface Window {
    gelanOps?: import('./ops-runner').OpsApi;
    gelanBlocks?: import('./blocks-runner').BlocksApi;
  }
}
