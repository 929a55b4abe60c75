// gelan-webgpu: a WebGPU deep-learning engine that trains and runs YOLOv9 (GELAN + PGI) in Node and browsers.
export * from './engine';
