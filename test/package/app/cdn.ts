// The single-file bundles (`gelan-webgpu/browser`, `gelan-webgpu/browser/min`) carry the same types.
import { createDevice as fromBundle } from 'gelan-webgpu/browser';
import { type Device, createDevice, io } from 'gelan-webgpu';
import { createDevice as fromMinified } from 'gelan-webgpu/browser/min';

export const sameApi: (typeof createDevice)[] = [fromBundle, fromMinified];
export type Engine = Device;
export const npy: Uint8Array = io.writeNpy({ dtype: 'f32', shape: [2], data: new Float32Array([1, 2]) });
