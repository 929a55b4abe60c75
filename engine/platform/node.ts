// Node: a GPU from Dawn (npm `webgpu`). Node-only; the browser bundle replaces this module.
import { installIdleWait } from './node-wait';

/**
 * Dawn's instance must stay referenced for the whole process: if it is garbage-collected while GPU work is in
 * flight, Node crashes seconds later. Devices also hold it, but a process-lifetime list is what guarantees it.
 */
const instances: unknown[] = [];

export async function nodeGpu(): Promise<GPU> {
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu')) as typeof mod;
  } catch (e) {
    throw new Error(`the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}. Run 'npm install'.`);
  }
  // WebGPU constants (GPUBufferUsage, GPUMapMode, ...) are globals in browsers; Dawn provides them separately.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
  const gpu = await dawnGpu(mod.create);
  instances.push(gpu);
  // Dawn's binding spins the main thread while a promise is pending; make its polling sleep instead.
  installIdleWait();
  return gpu;
}

/**
 * Dawn's GPU object. Its experimental subgroup-matrix feature (cooperative matrices) shows only on an instance
 * with allow_unsafe_apis; that instance is used only where its adapter offers the feature, since the toggle
 * also relaxes validation elsewhere.
 */
export async function dawnGpu(create: (flags: string[]) => GPU): Promise<GPU> {
  const unsafe = create(['enable-dawn-features=allow_unsafe_apis']);
  instances.push(unsafe);
  const adapter = await unsafe.requestAdapter();
  if (adapter?.features.has('chromium-experimental-subgroup-matrix')) return unsafe;
  return create([]);
}

export const NODE_NO_ADAPTER_HELP =
  process.platform === 'linux'
    ? "Dawn found no Vulkan driver. On Debian 12 / Ubuntu without a GPU run 'npm run setup' as root: it installs " +
      'Mesa lavapipe >= 25 (on Debian 12 from bookworm-backports: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1). ' +
      'With a GPU, install its Vulkan driver.'
    : process.platform === 'darwin'
      ? 'Dawn needs Metal; check that this Mac supports Metal 2.'
      : 'Install a Direct3D 12 or Vulkan capable GPU driver.';
