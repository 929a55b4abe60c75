// The functional op API (PyTorch names and semantics, NCHW tensors, OIHW conv weights).
export * from './elementwise';
export * from './creation';
export * from './layout';
export * from './reduce';
export * from './matmul';
export * from './conv2d';
export * from './batchnorm';
export * from './pool';
export * from './upsample';
export * from './fold';
export * from './custom';
