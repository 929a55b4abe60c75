// Running the official YOLOv9 code from tests: /usr/bin/python3 with Debian's python3-torch and an official checkout
// (GELAN_YOLOV9_DIR, default /tmp/yolov9). CI cannot download the checkout, so tests that need it skip with the
// reason this module gives.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';
export const YOLOV9_DIR = process.env.GELAN_YOLOV9_DIR ?? '/tmp/yolov9';

/** Why the official code cannot run here, or null when it can. */
export function officialUnavailable(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  if (spawnSync(PYTHON, ['-c', 'import torch, yaml, cv2'], { encoding: 'utf8' }).status !== 0) return `${PYTHON} lacks torch, yaml or cv2 (Debian python3-torch python3-yaml python3-opencv)`;
  if (!existsSync(join(YOLOV9_DIR, 'models/yolo.py'))) return `no official YOLOv9 checkout at ${YOLOV9_DIR} (set GELAN_YOLOV9_DIR)`;
  return null;
}

/** True when torch sees a CUDA device (the official DDP launch needs one per process). */
export const hasCuda = (): boolean => spawnSync(PYTHON, ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)']).status === 0;
