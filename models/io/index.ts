// Weight-file I/O without Python or a GPU: safetensors, .npy, and PyTorch .pt checkpoints through a safe unpickler.
export { WeightFileError, type WeightFileErrorDetail } from './errors';
export {
  type DType, type DTypeData, type DTypeName, type HostTensor, type HostTensorInput, type HostTensorOf, type TypedData, DTYPE_BYTES, dtypeTag, fromFloat32, hostTensor,
  int64ToNumbers, isDType, numel, tensorBytes, tensorFromBytes, toFloat32,
} from './dtypes';
export {
  type SafetensorsEntry, type SafetensorsFile, type SafetensorsHeader, type TensorSet, parseSafetensorsHeader,
  readSafetensors, writeSafetensors,
} from './safetensors';
export { readNpy, writeNpy } from './npy';
export { type UnpickleOptions, unpickle } from './pickle';
export {
  type PickleCall, type PickleDict, type PickleGlobal, type PickleObject, type PickleTensor, type PickleValue,
  type TorchStorage, describe, isCall, isDict, isGlobal, isObject, isStorage, isTensor,
} from './pickle-values';
export {
  type ModelRow, type PlainValue, attr, children, isModule, modelRows, modelYaml, stateTensors, submodule, toPlain,
} from './torch-module';
export { type CheckpointEntry, type TorchCheckpoint, loadTorchCheckpoint } from './torch-checkpoint';
export { gatherStrided, isDenseRowMajor, stridedExtent } from '../../engine/strided';
