// The consumer as plain JavaScript for the bundlers that read no TypeScript without a plugin (Rollup, webpack).
import { conv2d, createDevice, io, tensor } from 'gelan-webgpu';

export const api = { conv2d, createDevice, io, tensor };
