// Which optional features and kernel paths a device gets: the features we ask for, subgroup sizes, the
// subgroup-matrix shape (cooperative matrices) and whether to prefer compact kernels, from the GPUDevice, its
// adapter and the caller's settings.
import type { SubgroupMatrixShape } from '../kernels/common';

export type { SubgroupMatrixShape };

/** Optional features we use when the adapter has them. */
export const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'] as const;
/** An optional WebGPU feature the engine asks for when the adapter has it. */
export type WantedFeature = (typeof WANTED_FEATURES)[number];

/** Optional WebGPU features the engine obtained and uses. */
export interface DeviceFeatures {
  readonly f16: boolean;
  readonly subgroups: boolean;
  readonly timestampQuery: boolean;
}

/** One cooperative-matrix shape of the adapter: M×K (left) · K×N (right) accumulated into M×N. */
export interface SubgroupMatrixConfig {
  readonly componentType: string;
  readonly resultComponentType: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/**
 * The shape the engine uses, or null: it needs the feature, the subgroup_id builtin, f16, one fixed subgroup size
 * (the kernels split a workgroup's tile between a known number of subgroups) and an f16 × f16 configuration.
 */
export function pickSubgroupMatrix(
  features: ReadonlySet<string>, configs: readonly SubgroupMatrixConfig[], wgsl: ReadonlySet<string>, sgMin: number, sgMax: number,
): SubgroupMatrixShape | null {
  if (!features.has('chromium-experimental-subgroup-matrix') || !features.has('shader-f16') || !wgsl.has('subgroup_id')) return null;
  if (sgMin === 0 || sgMin !== sgMax) return null;
  const f16 = configs.filter((c) => c.componentType === 'f16' && (c.resultComponentType === 'f32' || c.resultComponentType === 'f16'));
  // f32 accumulation first, then the largest tile (fewer, bigger multiplies)
  f16.sort((a, b) => (a.resultComponentType === 'f32' ? 0 : 1) - (b.resultComponentType === 'f32' ? 0 : 1) || b.M * b.N * b.K - a.M * a.N * a.K);
  const c = f16[0];
  return c ? { M: c.M, N: c.N, K: c.K, acc: c.resultComponentType as 'f32' | 'f16', subgroupSize: sgMin } : null;
}

/** The adapter's vendor, architecture, device and description as the GPU reports them. */
export interface AdapterDescription {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
}

/** What the adapter tells beyond the GPUDevice (its subgroup-matrix shapes and the WGSL language features). */
export interface AdapterExtras {
  readonly subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
  readonly wgslLanguageFeatures?: ReadonlySet<string>;
}

/** Whether f16 matmuls and convs run on the adapter's subgroup matrices, in words (bench and selfcheck headers). */
export function describeSubgroupMatrix(dev: { readonly subgroupMatrixOffered: SubgroupMatrixShape | null; readonly subgroupMatrix: SubgroupMatrixShape | null }): string {
  const m = dev.subgroupMatrixOffered;
  if (!m) return 'none offered';
  const shape = `${m.M}×${m.N}×${m.K} f16→${m.acc}, subgroups of ${m.subgroupSize}`;
  return dev.subgroupMatrix
    ? `${shape}: f16 matmuls and convs use them`
    : `${shape} offered, not used (subgroupMatrix: false, or 'auto' on a software adapter, which emulates them slower than the SIMT kernels; true forces them)`;
}

/** What the device runs with: its features, subgroup sizes, the subgroup-matrix shape in use and the kernel style. */
export interface SelectedFeatures {
  readonly features: DeviceFeatures;
  readonly subgroupMinSize: number;
  readonly subgroupMaxSize: number;
  readonly compactKernels: boolean;
  /** A software adapter (llvmpipe, SwiftShader): workgroups run on a few CPU threads. */
  readonly software: boolean;
  readonly subgroupMatrixOffered: SubgroupMatrixShape | null;
  readonly subgroupMatrix: SubgroupMatrixShape | null;
}

/**
 * Compact kernels on SwiftShader unless told otherwise; subgroup matrices where offered, on hardware adapters only
 * unless `subgroupMatrix` forces them (a software adapter emulates them slower than the SIMT kernels).
 */
export function selectFeatures(
  gpu: GPUDevice, adapter: AdapterDescription, settings: { readonly compactKernels?: boolean; readonly subgroupMatrix?: boolean | 'auto' }, extras: AdapterExtras,
): SelectedFeatures {
  const f = gpu.features;
  const features = { f16: f.has('shader-f16'), subgroups: f.has('subgroups'), timestampQuery: f.has('timestamp-query') };
  const info = (gpu as GPUDevice & { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[] } }).adapterInfo;
  const subgroupMinSize = features.subgroups ? (info?.subgroupMinSize ?? 0) : 0;
  const subgroupMaxSize = features.subgroups ? (info?.subgroupMaxSize ?? 0) : 0;
  const wgsl = extras.wgslLanguageFeatures ?? (typeof navigator !== 'undefined' ? navigator.gpu?.wgslLanguageFeatures : undefined) ?? new Set<string>();
  const configs = extras.subgroupMatrixConfigs?.length ? extras.subgroupMatrixConfigs : (info?.subgroupMatrixConfigs ?? []);
  const subgroupMatrixOffered = pickSubgroupMatrix(f, configs, wgsl, subgroupMinSize, subgroupMaxSize);
  const software = /llvmpipe|lavapipe|swiftshader/i.test(`${adapter.vendor} ${adapter.architecture} ${adapter.description}`);
  const use = settings.subgroupMatrix ?? 'auto';
  return {
    features,
    subgroupMinSize,
    subgroupMaxSize,
    compactKernels: settings.compactKernels ?? adapter.architecture === 'swiftshader',
    software,
    subgroupMatrixOffered,
    subgroupMatrix: use === true || (use === 'auto' && !software) ? subgroupMatrixOffered : null,
  };
}
