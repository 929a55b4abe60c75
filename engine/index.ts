// Public API of the engine: device, tensors and scopes, autograd, functional ops.
export { createDevice, type CreateDeviceOptions } from './create-device';
export { TileSearch, type TileChoice, type TileBench, type TileCacheJSON, type TileSearchOptions, type TileSearchResult } from './tile-search';
export { Device, describeSubgroupMatrix, type Autograd, type DeviceFeatures, type DeviceSettings, type MemoryReport, type AdapterDescription, type WantedFeature, type SubgroupMatrixShape, type SubgroupMatrixConfig } from './device';
export { Tensor, type DType, type TensorOptions, tensor, empty, tidy, noGrad } from './tensor';
export { OpError, DeviceLostError, NoAdapterError } from './errors';
export type { Shape } from './shape';
export * from './ops';
