// Messages between the demo page (main thread: UI only) and its worker (the engine: device, model, training,
// detection). The worker owns every GPU object, so the page never waits on the GPU and never freezes.

/** What the page asks for a training run (the main job's recipe at a size a browser tab trains in minutes). */
export interface RunSettings {
  /** 'yolov9-shapes' (PGI, auxiliary branch) or 'gelan-shapes'. */
  readonly cfg: string;
  readonly imgsz: number;
  readonly batch: number;
  readonly epochs: number;
  readonly trainImages: number;
  readonly valImages: number;
  readonly seed: number;
  /** Pause by itself after this many training steps (0: never); the browser tests use it. */
  readonly maxSteps: number;
  /** Train on the dataset the page loaded instead of the embedded shapes (trainImages/valImages then unused). */
  readonly userData?: boolean;
  /** Start from the loaded weights (fine-tuning: matching tensors transfer, the rest keep their initialisation). */
  readonly finetune?: boolean;
}

/** Images, boxes per class and unlabelled images of one split. */
export interface SplitStats {
  readonly images: number;
  readonly boxes: number;
  readonly perClass: readonly number[];
  readonly background: number;
}

/** A file of a dropped or picked folder, with its path inside the folder. */
export interface FolderFile {
  readonly path: string;
  readonly file: Blob;
}

/** An RGB image (HWC bytes), as the engine's data pipeline holds it. */
export interface Rgb {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** [x1, y1, x2, y2, conf, cls] in the image's pixels. */
export type Box = [number, number, number, number, number, number];
/** [cls, x1, y1, x2, y2] in the image's pixels. */
export type LabelBox = [number, number, number, number, number];

export interface DeviceReport {
  readonly adapter: { vendor: string; architecture: string; device: string; description: string };
  readonly features: { f16: boolean; subgroups: boolean; timestampQuery: boolean };
  readonly subgroupMinSize: number;
  readonly limits: Record<string, number>;
}

export interface ValSummary {
  readonly map50: number;
  readonly map: number;
  readonly mp: number;
  readonly mr: number;
  readonly seconds: number;
}

export type ToWorker =
  | { readonly type: 'train'; readonly settings: RunSettings }
  | { readonly type: 'pause' }
  | { readonly type: 'resume'; readonly maxSteps?: number }
  | { readonly type: 'detect'; readonly id: number; readonly image: Rgb; readonly conf: number; readonly imgsz: number }
  | { readonly type: 'loadWeights'; readonly name: string; readonly bytes: Uint8Array }
  | { readonly type: 'saveWeights'; readonly removeAux: boolean }
  | { readonly type: 'bench'; readonly filter: string; readonly quick: boolean }
  /** A YOLO dataset: a zip archive or a folder's files, read in the worker (nothing is uploaded or written). */
  | { readonly type: 'dataset'; readonly name: string; readonly zip?: Blob; readonly files?: readonly FolderFile[] }
  /** The run's full training checkpoint (model, EMA, optimiser, epoch) in the format of `gelan train`. */
  | { readonly type: 'saveCheckpoint' }
  /** Continue a run from a checkpoint of the page or of `gelan train` (its dataset must be loaded unless shapes). */
  | { readonly type: 'resumeCheckpoint'; readonly name: string; readonly bytes: Uint8Array; readonly maxSteps?: number }
  | { readonly type: 'dispose' };

/** One benchmark case as measured on this device (bench/suite.ts, our engine only). */
export interface BenchRow {
  readonly name: string;
  readonly median_ms: number;
  readonly timing: 'gpu' | 'wall';
  readonly gflops: number;
  readonly samples: number;
}

export type RunState = 'starting' | 'idle' | 'training' | 'pausing' | 'paused' | 'done';

export type FromWorker =
  | { readonly type: 'device'; readonly device: DeviceReport }
  | { readonly type: 'fatal'; readonly message: string }
  | { readonly type: 'error'; readonly about: string; readonly message: string }
  | { readonly type: 'state'; readonly state: RunState; readonly steps: number }
  | { readonly type: 'model'; readonly source: string; readonly parameters: number; readonly gflops: number; readonly names: readonly string[]; readonly origin: 'trained' | 'loaded' }
  | {
      readonly type: 'step';
      readonly epoch: number;
      readonly epochs: number;
      readonly batch: number;
      readonly batches: number;
      readonly iteration: number;
      /** [box, cls, dfl] of this batch. */
      readonly items: readonly number[];
      readonly imagesPerSecond: number;
      readonly lr: number;
    }
  | { readonly type: 'epoch'; readonly epoch: number; readonly epochs: number; readonly train: readonly number[]; readonly val: ValSummary | null; readonly seconds: number }
  | { readonly type: 'predictions'; readonly epoch: number; readonly images: readonly { image: Rgb; boxes: Box[]; labels: LabelBox[] }[] }
  | { readonly type: 'detections'; readonly id: number; readonly boxes: Box[]; readonly ms: number; readonly names: readonly string[] }
  | { readonly type: 'weights'; readonly name: string; readonly bytes: Uint8Array; readonly kind: 'weights' | 'checkpoint' }
  | {
      readonly type: 'dataset';
      readonly name: string;
      readonly source: string;
      readonly names: readonly string[];
      readonly train: SplitStats;
      readonly val: SplitStats;
      readonly warnings: readonly string[];
      readonly thumbnails: readonly { image: Rgb; labels: LabelBox[] }[];
    }
  /** A one-line report (weights transferred, files skipped) shown under Messages. */
  | { readonly type: 'note'; readonly about: string; readonly message: string }
  | { readonly type: 'benchLine'; readonly text: string }
  | { readonly type: 'benchDone'; readonly adapter: string; readonly peakGflops: number; readonly rows: readonly BenchRow[] }
  | { readonly type: 'disposed'; readonly liveBytes: number };
