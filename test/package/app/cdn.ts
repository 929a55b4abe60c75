// Types through the package's other entry points and names: the single-file bundles (`gelan-webgpu/browser`,
// `gelan-webgpu/browser/min`) carry the same types; GradScaler is exported; io takes lower-case dtypes.
import { createDevice as fromBundle } from 'gelan-webgpu/browser';
import { type Device, GradScaler, createDevice, io } from 'gelan-webgpu';
import { createDevice as fromMinified } from 'gelan-webgpu/browser/min';

export const sameApi: (typeof createDevice)[] = [fromBundle, fromMinified];
export type Engine = Device;
export const scaler: typeof GradScaler = GradScaler;
export const npy: Uint8Array = io.writeNpy({ dtype: 'f32', shape: [2], data: new Float32Array([1, 2]) });
