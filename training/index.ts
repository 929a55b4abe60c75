// Public API of the training layer (platform-neutral; the Node file-system adapter is training/data/fs-node).
export * from './data';
export { Trainer, type TrainerOptions, type StepEvent, type EpochEvent } from './trainer';
export { detectImage, type DetectOptions } from './detect';
export { validate, detectBatch, batchLabels, type ValResult, type Prediction } from './validate';
export { detectionLoss, GAINS, AUX_WEIGHT, type LossResult } from './loss/detection-loss';
export { assign, packTargets, type AssignTargets, type GroundTruth } from './loss/assigner';
export { ciou } from './loss/ciou';
export { Optimizer, type OptimizerName, type OptimizerOptions } from './optim/optimizer';
export { ModelEMA, emaDecay } from './optim/ema';
export { GradScaler, type GradScalerOptions } from './optim/grad-scaler';
export { parameterGroups } from './optim/groups';
export { lrLambda, warmup, nominalBatch, type ScheduleKind } from './optim/schedule';
export { HYP_SCRATCH_HIGH, parseHyp, type Hyp } from './hyp';
export { DEMO_RECIPE, demoHyp, type DemoRecipe } from './presets/demo';
export { saveCheckpoint, readCheckpoint, restoreCheckpoint, type TrainState, type CheckpointMeta, type LoadedCheckpoint } from './checkpoint';
export { nms, type Detection, type NmsOptions } from './metrics/nms';
export { apPerClass, computeAp, processBatch, IOU_THRESHOLDS, type ApResult, type Label } from './metrics/map';
export { plotResults } from './plot';
