// gelan-webgpu: a WebGPU deep-learning engine that trains and runs YOLOv9 (GELAN + PGI) in Node and browsers.
export * from './engine';
export * from './models';
/** Weight-file formats (safetensors, .npy, PyTorch .pt via a safe unpickler). */
export * as io from './models/io';
export * from './training';
