// One way to get a Device everywhere: the host's GPUDevice (embedding), navigator.gpu in a browser, or Dawn in
// Node. Optional features we use are requested when present and limits are raised to the adapter's maximum.
import { type AdapterDescription, type DeviceSettings, type SubgroupMatrixConfig, type WantedFeature, Device, WANTED_FEATURES } from './device';
import { NoAdapterError } from './errors';
import { backward } from './autograd';

/** Options of createDevice(): where the GPU comes from, plus the engine settings (DeviceSettings). */
export interface CreateDeviceOptions extends DeviceSettings {
  /** Use this GPUDevice (owned by the host application); the engine will not create or destroy a device. */
  readonly device?: GPUDevice;
  /** The adapter `device` came from: Dawn lists the subgroup-matrix shapes on its info only, not the device's. */
  readonly adapter?: GPUAdapter;
  /** A GPU object to request the adapter from (default: navigator.gpu, or Dawn in Node). */
  readonly gpu?: GPU;
  readonly powerPreference?: GPUPowerPreference;
  /** Optional features to request when available (default: shader-f16, subgroups, timestamp-query, subgroup matrices). */
  readonly features?: readonly WantedFeature[];
}

/** Limits the engine benefits from; each is raised to the adapter's maximum. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
] as const;

function describe(info: GPUAdapterInfo | undefined): AdapterDescription {
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
  };
}

/** The adapter's subgroup-matrix shapes (Dawn lists them on the adapter's info only; the device's has none). */
const matrixConfigs = (adapter: GPUAdapter): readonly SubgroupMatrixConfig[] =>
  (adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[] }).subgroupMatrixConfigs ?? [];

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Opens the engine on a GPU: the host application's `device` when given, else an adapter from `gpu`, navigator.gpu (browsers) or Dawn (Node). */
export async function createDevice(opts: CreateDeviceOptions = {}): Promise<Device> {
  if (opts.device) {
    const extras = opts.adapter ? { subgroupMatrixConfigs: matrixConfigs(opts.adapter), wgslLanguageFeatures: opts.gpu?.wgslLanguageFeatures } : {};
    return new Device(opts.device, describe(opts.device.adapterInfo), false, opts, null, extras, { backward });
  }
  let gpu = opts.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  let help = 'This browser has no WebGPU (navigator.gpu is missing): use a recent Chrome/Edge, or Firefox/Safari with WebGPU enabled.';
  if (!gpu && isNode()) {
    const node = await import('./platform/node');
    gpu = await node.nodeGpu();
    help = node.NODE_NO_ADAPTER_HELP;
  }
  if (!gpu) throw new NoAdapterError(help);
  const adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  if (!adapter) throw new NoAdapterError(help);
  const wanted = opts.features ?? WANTED_FEATURES;
  // the experimental subgroup-matrix feature is not in @webgpu/types' GPUFeatureName
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) {
    const v = adapter.limits[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'gelan-webgpu' });
  const extras = { subgroupMatrixConfigs: matrixConfigs(adapter), wgslLanguageFeatures: gpu.wgslLanguageFeatures };
  return new Device(device, describe(adapter.info), true, opts, gpu, extras, { backward });
}
