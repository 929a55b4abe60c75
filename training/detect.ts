// Detection on one image, as the official detect.py does it: letterbox to the input size (no stride padding),
// eval-mode forward, NMS, boxes mapped back to the original image. Platform-neutral: the CLI and the demo page
// (in a worker) call the same function.
import { noGrad, tensor, tidy } from '../engine/tensor';
import type { DetectionModel } from '../models/yolo';
import { letterbox } from './data/augment';
import type { RgbImage } from './data/image';
import { writePlanes } from './data/loader';
import { type Detection, nms } from './metrics/nms';

/** Options of detectImage(). */
export interface DetectOptions {
  /** Square input size (a multiple of the model's largest stride, 32 for YOLOv9). */
  readonly imgsz: number;
  /** Confidence threshold (official detect.py: 0.25). */
  readonly conf?: number;
  /** NMS IoU threshold (official detect.py: 0.45). */
  readonly iou?: number;
  readonly maxDet?: number;
}

/** Detections [x1, y1, x2, y2, conf, cls] in the pixels of `image`. */
export async function detectImage(model: DetectionModel, image: RgbImage, o: DetectOptions): Promise<Detection[]> {
  const { imgsz } = o;
  if (!Number.isInteger(imgsz) || imgsz <= 0 || imgsz % 32 !== 0) throw new Error(`detect: imgsz must be a positive multiple of 32, got ${imgsz}`);
  if (image.width <= 0 || image.height <= 0 || image.data.length !== image.width * image.height * 3) {
    throw new Error(`detect: expected an RGB image (width*height*3 bytes), got ${image.width}x${image.height} with ${image.data.length} bytes`);
  }
  const dev = model.device;
  const lb = letterbox(image, [imgsz, imgsz], { auto: false });
  const x = writePlanes(lb.image, new Float32Array(3 * imgsz * imgsz));
  model.eval();
  const y = await noGrad(dev, () => tidy(dev, () => model.forward(tensor(dev, x, [1, 3, imgsz, imgsz])).main.y!.data()));
  const A = y.length / (4 + model.nc);
  const [rw, rh] = lb.ratio;
  const [pw, ph] = lb.pad;
  const clampX = (v: number): number => Math.min(Math.max(v, 0), image.width);
  const clampY = (v: number): number => Math.min(Math.max(v, 0), image.height);
  return nms(y, model.nc, A, { conf: o.conf ?? 0.25, iou: o.iou ?? 0.45, maxDet: o.maxDet ?? 300 }).map(
    ([x1, y1, x2, y2, c, k]) => [clampX((x1 - pw) / rw), clampY((y1 - ph) / rh), clampX((x2 - pw) / rw), clampY((y2 - ph) / rh), c, k] as Detection,
  );
}
