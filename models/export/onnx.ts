// ONNX export of a detection model: the deployed graph (auxiliary branch removed, Conv+BN and RepConvN folded)
// emitted block by block, `images` (B, 3, H, W) in, `output0` (B, 4 + nc, anchors) out — xywh in input pixels
// and class probabilities, as the official export — or, with `nms`, the four end-to-end outputs computed with
// the standard NonMaxSuppression op. Anchor points are generated in the graph from each level's shape, so one
// graph serves every input size when batch, height and width are symbolic (`dynamic`).
import type { Tensor } from '../../engine/tensor';
import type { DetectionModel } from '../yolo';
import { type Activation, Conv, Conv2d } from '../layers';
import type { Block } from '../module';
import { ADown, AConv, CBFuse, CBLinear, Concat, ELAN1, RepConvN, RepNBottleneck, RepNCSP, RepNCSPELAN4, SPPELAN, Sequential, Silence, Upsample } from '../blocks';
import { DDetect, REG_MAX } from '../heads';
import { deployableModel } from './deployable';
import { OnnxGraphBuilder } from './onnx-graph';
import { type OnnxValueInfo, encodeOnnx } from './onnx-proto';

/** Opsets whose versions of every op used here were checked against onnxruntime. */
export const ONNX_OPSETS = { min: 17, max: 21 } as const;

/** The NonMaxSuppression appended by `--nms`: confidence and IoU thresholds, detections kept per image. */
export interface OnnxNmsOptions {
  /** Keep detections whose best class probability is above this (strict), default 0.25. */
  readonly conf?: number;
  /** Suppress boxes of the same class overlapping a kept one by more than this IoU, default 0.45. */
  readonly iou?: number;
  /** Detections per image (outputs are padded to it), default 100. */
  readonly maxDet?: number;
}

/** What exportOnnx writes: input size and batch (or symbolic with `dynamic`), f16, NMS, opset, class names. */
export interface OnnxExportOptions {
  /** Input height and width (a number = square), default 640; must be multiples of the largest stride. */
  readonly imgsz?: number | readonly [number, number];
  /** Batch size of the fixed-shape graph, default 1 (ignored when `dynamic`). */
  readonly batch?: number;
  /** Symbolic batch, height and width. */
  readonly dynamic?: boolean;
  /** f16 input, weights and convolutions; the box decode (and NMS) stays f32, as our own f16 inference. */
  readonly half?: boolean;
  /** Append NonMaxSuppression: outputs num_dets, det_boxes (xyxy pixels), det_scores, det_classes. */
  readonly nms?: OnnxNmsOptions | boolean;
  /** Default-domain opset, default 17. */
  readonly opset?: number;
  /** Class names for the metadata (default '0', '1', …). */
  readonly names?: readonly string[];
  /** Names the model in error messages (a file path). */
  readonly source?: string;
}

/** The NMS thresholds the official detect.py uses. */
export const NMS_DEFAULTS = { conf: 0.25, iou: 0.45, maxDet: 100 } as const;

/** Python's repr of the names dict, as the official export stores it ("{0: 'person', 1: 'bicycle'}"). */
const pyNames = (names: readonly string[]): string => `{${names.map((n, i) => `${i}: '${n.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}}`;

/** Walks a deployed model and emits its ONNX graph. */
class Emitter {
  constructor(
    readonly g: OnnxGraphBuilder,
    private readonly host: ReadonlyMap<Tensor, Float32Array>,
    private readonly names: ReadonlyMap<Tensor, string>,
    private readonly elem: 'f32' | 'f16',
  ) {}

  private tensor(t: Tensor): string {
    return this.g.weights(this.names.get(t) ?? 'w', t.shape, this.host.get(t)!, this.elem);
  }

  act(x: string, a: Activation): string {
    if (a === 'silu') return this.g.op1('Mul', [x, this.g.op1('Sigmoid', [x])]);
    if (a === 'relu') return this.g.op1('Relu', [x]);
    return x;
  }

  conv2d(c: Conv2d, x: string, a: Activation = 'none'): string {
    const k = c.weight.shape[2];
    const p = c.padding;
    const inputs = [x, this.tensor(c.weight), ...(c.bias ? [this.tensor(c.bias)] : [])];
    const y = this.g.op1('Conv', inputs, { kernel_shape: [k, k], strides: [c.stride, c.stride], pads: [p, p, p, p], dilations: [c.dilation, c.dilation], group: c.groups });
    return this.act(y, a);
  }

  one(m: Block, x: string | string[]): string {
    const y = this.block(m, x);
    if (Array.isArray(y)) throw new Error(`ONNX export: ${m.constructor.name} gave a tuple where one tensor was expected`);
    return y;
  }

  block(m: Block, x: string | string[]): string | string[] {
    const g = this.g;
    const single = (): string => {
      if (Array.isArray(x)) throw new Error(`ONNX export: ${m.constructor.name} expects one input, got ${x.length}`);
      return x;
    };
    if (m instanceof Sequential) return m.items.reduce<string | string[]>((v, b) => this.block(b, v), x);
    if (m instanceof Conv) {
      if (m.bn) throw new Error('ONNX export: the model must be fused first (a Conv still has its BatchNorm)');
      return this.conv2d(m.conv, single(), m.activation);
    }
    if (m instanceof Conv2d) return this.conv2d(m, single());
    if (m instanceof RepConvN) {
      if (!m.fused) throw new Error('ONNX export: the model must be fused first (a RepConvN still has two branches)');
      return this.conv2d(m.fused, single(), m.act);
    }
    if (m instanceof RepNBottleneck) {
      const y = this.one(m.cv2, this.one(m.cv1, single()));
      return m.add ? g.op1('Add', [single(), y]) : y;
    }
    if (m instanceof RepNCSP) {
      const a = this.one(m.m, this.one(m.cv1, single()));
      const b = this.one(m.cv2, single());
      return this.one(m.cv3, g.op1('Concat', [a, b], { axis: 1 }));
    }
    if (m instanceof RepNCSPELAN4 || m instanceof ELAN1) {
      const t = this.one(m.cv1, single());
      const h = m.cv1.conv.weight.shape[0] / 2;
      const [y0, y1] = g.split(t, 1, [h, h]);
      const y2 = this.one(m.cv2, y1);
      const y3 = this.one(m.cv3, y2);
      return this.one(m.cv4, g.op1('Concat', [y0, y1, y2, y3], { axis: 1 }));
    }
    if (m instanceof AConv) return this.one(m.cv1, this.pool2s1(single()));
    if (m instanceof ADown) {
      const p = this.pool2s1(single());
      const h = m.cv1.conv.weight.shape[1];
      const [x1, x2] = g.split(p, 1, [h, h]);
      const a = this.one(m.cv1, x1);
      const b = this.one(m.cv2, g.op1('MaxPool', [x2], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }));
      return g.op1('Concat', [a, b], { axis: 1 });
    }
    if (m instanceof SPPELAN) {
      const ys = [this.one(m.cv1, single())];
      for (let i = 0; i < 3; i++) ys.push(g.op1('MaxPool', [ys[i]], { kernel_shape: [5, 5], strides: [1, 1], pads: [2, 2, 2, 2] }));
      return this.one(m.cv5, g.op1('Concat', ys, { axis: 1 }));
    }
    if (m instanceof Concat) return g.op1('Concat', Array.isArray(x) ? x : [x], { axis: m.dim });
    if (m instanceof Upsample) {
      // PyTorch's nearest: source index floor(dst / scale), i.e. 'asymmetric' + 'floor'
      return g.op1('Resize', [single(), '', g.float([1, 1, m.scale, m.scale])], { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } });
    }
    if (m instanceof Silence) return single();
    if (m instanceof CBLinear) return g.split(this.conv2d(m.conv, single()), 1, m.c2s);
    throw new Error(`ONNX export: no ONNX form for ${m.constructor.name}`);
  }

  /** The stride-1 2×2 average pool that starts AConv and ADown. */
  private pool2s1(x: string): string {
    return this.g.op1('AveragePool', [x], { kernel_shape: [2, 2], strides: [1, 1], pads: [0, 0, 0, 0], count_include_pad: 1 });
  }

  /** CBFuse: x + Σ_j nearest_resize(sources[j][idx[j]] to x's size). */
  cbfuse(m: CBFuse, sources: readonly string[][], x: string): string {
    const g = this.g;
    const shapeX = g.op1('Shape', [x]);
    let acc: string | null = null;
    sources.forEach((parts, j) => {
      const src = parts[m.idx[j]];
      const sizes = g.op1('Concat', [g.op1('Slice', [g.op1('Shape', [src]), g.i64([0]), g.i64([2])]), g.op1('Slice', [shapeX, g.i64([2]), g.i64([4])])], { axis: 0 });
      const r = g.op1('Resize', [src, '', '', sizes], { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } });
      acc = acc ? g.op1('Add', [acc, r]) : r;
    });
    return acc ? g.op1('Add', [acc, x]) : x;
  }

  /** The detection head: per level box and class towers, then the official decode to (B, 4 + nc, A) in f32. */
  head(h: DDetect, feats: readonly string[]): string {
    const g = this.g;
    const b = h.branch;
    const no = 4 * REG_MAX + b.nc;
    const flat: string[] = [];
    const points: string[] = [];
    const strides: string[] = [];
    feats.forEach((x, l) => {
      const box = this.one(b.box.items[l], x);
      const cls = this.one(b.cls.items[l], x);
      const lv = g.op1('Concat', [box, cls], { axis: 1 });
      flat.push(g.op1('Reshape', [lv, g.i64([0, no, -1])]));
      // anchor points (x + 0.5, y + 0.5) row-major over this level's grid, from its runtime shape
      const col = g.op1('Add', [g.cast(g.op1('Range', [g.i64([0], []), g.dim(lv, 3), g.i64([1], [])]), 'f32'), g.float([0.5], [])]);
      const row = g.op1('Add', [g.cast(g.op1('Range', [g.i64([0], []), g.dim(lv, 2), g.i64([1], [])]), 'f32'), g.float([0.5], [])]);
      const colsH = g.unsqueeze(col, [0]); // (1, w)
      const rowsV = g.unsqueeze(row, [1]); // (h, 1)
      const zero = g.float([0], []);
      const gx = g.op1('Add', [colsH, g.op1('Mul', [rowsV, zero])]); // (h, w)
      const gy = g.op1('Add', [rowsV, g.op1('Mul', [colsH, zero])]);
      const shape = g.i64([1, 1, -1]);
      const px = g.op1('Reshape', [gx, shape]);
      points.push(g.op1('Concat', [px, g.op1('Reshape', [gy, shape])], { axis: 1 }));
      strides.push(g.op1('Add', [g.op1('Mul', [px, zero]), g.float([h.strides[l]], [])]));
    });
    let y = g.op1('Concat', flat, { axis: 2 });
    if (this.elem === 'f16') y = g.cast(y, 'f32');
    const pts = g.op1('Concat', points, { axis: 2 }); // (1, 2, A)
    const str = g.op1('Concat', strides, { axis: 2 }); // (1, 1, A)
    const [box, cls] = g.split(y, 1, [4 * REG_MAX, b.nc]);
    // DFL: softmax over the 16 bins of each side (side-major channels), expectation with the bin values
    const bins = this.host.get(b.dfl.conv.weight)!;
    const p = g.op1('Softmax', [g.op1('Reshape', [box, g.i64([0, 4, REG_MAX, -1])])], { axis: 2 });
    const d = g.reduce('ReduceSum', g.op1('Mul', [p, g.weights('dfl_bins', [1, 1, REG_MAX, 1], bins, 'f32')]), [2], false); // (B, 4, A)
    const [lt, rb] = g.split(d, 1, [2, 2]);
    const x1y1 = g.op1('Sub', [pts, lt]);
    const x2y2 = g.op1('Add', [pts, rb]);
    const cxy = g.op1('Mul', [g.op1('Add', [x1y1, x2y2]), g.float([0.5], [])]);
    const wh = g.op1('Sub', [x2y2, x1y1]);
    const xywh = g.op1('Mul', [g.op1('Concat', [cxy, wh], { axis: 1 }), str]);
    return g.op1('Concat', [xywh, g.op1('Sigmoid', [cls])], { axis: 1 });
  }

  /**
   * Detect-style NMS (best class per anchor, class-aware, strict conf, IoU above `iou` suppressed, the top
   * `maxDet` by score): the best-class mask turns NonMaxSuppression's per-class search into the official one.
   */
  nms(out: string, nc: number, o: Required<OnnxNmsOptions>): { num: string; boxes: string; scores: string; classes: string } {
    const g = this.g;
    const [cxy, wh, scores] = g.split(out, 1, [2, 2, nc]);
    const half = g.op1('Mul', [wh, g.float([0.5], [])]);
    const xyxy = g.op1('Concat', [g.op1('Sub', [cxy, half]), g.op1('Add', [cxy, half])], { axis: 1 });
    const boxes = g.op1('Transpose', [xyxy], { perm: [0, 2, 1] }); // (B, A, 4)
    const best = g.op1('ArgMax', [scores], { axis: 1, keepdims: 1 }); // (B, 1, A), first maximum
    const classIds = g.i64(Array.from({ length: nc }, (_, c) => c), [1, nc, 1]);
    const masked = g.op1('Where', [g.op1('Equal', [best, classIds]), scores, g.float([0], [])]); // (B, nc, A)
    const sel = g.op1('NonMaxSuppression', [boxes, masked, g.i64([o.maxDet]), g.float([o.iou]), g.float([o.conf])], { center_point_box: 0 }); // (N, 3)
    const [bi, ci, ai] = g.split(sel, 1, [1, 1, 1]); // (N, 1) each
    const selScore = g.op1('GatherND', [masked, sel]); // (N)
    const selBox = g.op1('GatherND', [boxes, g.op1('Concat', [bi, ai], { axis: 1 })]); // (N, 4)
    const selCls = g.op1('Reshape', [ci, g.i64([-1])]); // (N)
    // per image: scores of its own selections, -1 elsewhere, then the top min(N, maxDet)
    const batch = g.op1('Range', [g.i64([0], []), g.dim(out, 0), g.i64([1], [])]);
    const mine = g.op1('Equal', [g.unsqueeze(batch, [1]), g.op1('Reshape', [bi, g.i64([1, -1])])]); // (B, N)
    const s = g.op1('Where', [mine, g.unsqueeze(selScore, [0]), g.float([-1], [])]);
    const k = g.op1('Min', [g.op1('Shape', [selScore]), g.i64([o.maxDet])]);
    const [vals, idx] = g.op('TopK', [s, k], { axis: 1, largest: 1, sorted: 1 }, 2);
    const valid = g.op1('Greater', [vals, g.float([-0.5], [])]); // (B, k)
    const pad = g.op1('Sub', [g.i64([o.maxDet]), k]); // (1)
    const padTo = (x: string, rank: 2 | 3, zero: string): string => {
      const pads = g.op1('Concat', rank === 2 ? [g.i64([0, 0, 0]), pad] : [g.i64([0, 0, 0, 0]), pad, g.i64([0])], { axis: 0 });
      return g.op1('Pad', [x, pads, zero]);
    };
    const detScores = padTo(g.op1('Where', [valid, vals, g.float([0], [])]), 2, g.float([0], []));
    const detBoxes = padTo(g.op1('Where', [g.unsqueeze(valid, [2]), g.op1('Gather', [selBox, idx], { axis: 0 }), g.float([0], [])]), 3, g.float([0], []));
    const cls32 = g.cast(g.op1('Where', [valid, g.op1('Gather', [selCls, idx], { axis: 0 }), g.i64([0], [])]), 'i32');
    const detClasses = padTo(cls32, 2, g.initializer('zero_i32', 'i32', [], Int32Array.of(0)));
    const num = g.cast(g.reduce('ReduceSum', g.cast(valid, 'i64'), [1], true), 'i32'); // (B, 1)
    return { num, boxes: detBoxes, scores: detScores, classes: detClasses };
  }
}

/** Export `model` (not modified) as ONNX model bytes. */
export async function exportOnnx(model: DetectionModel, opts: OnnxExportOptions = {}): Promise<Uint8Array> {
  const source = opts.source ?? model.config.source;
  const opset = opts.opset ?? ONNX_OPSETS.min;
  if (!Number.isInteger(opset) || opset < ONNX_OPSETS.min || opset > ONNX_OPSETS.max) {
    throw new Error(`${source}: --opset ${opset} cannot be honoured: the export supports opsets ${ONNX_OPSETS.min} to ${ONNX_OPSETS.max}`);
  }
  const [H, W] = typeof opts.imgsz === 'number' || opts.imgsz === undefined ? [opts.imgsz ?? 640, opts.imgsz ?? 640] : opts.imgsz;
  const batch = opts.batch ?? 1;
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`${source}: --batch must be a positive integer, got ${batch}`);
  if (!(H > 0 && W > 0 && H % model.maxStride === 0 && W % model.maxStride === 0)) {
    throw new Error(`${source}: --imgsz ${H === W ? H : `${H},${W}`} must be positive multiples of the model's largest stride ${model.maxStride}`);
  }
  const nmsOpt = opts.nms === true ? {} : opts.nms || null;
  const nms = nmsOpt ? { ...NMS_DEFAULTS, ...Object.fromEntries(Object.entries(nmsOpt).filter(([, v]) => v !== undefined)) } : null;
  if (nms) {
    if (!(nms.conf >= 0 && nms.conf < 1)) throw new Error(`${source}: --conf must be in [0, 1), got ${nms.conf}`);
    if (!(nms.iou >= 0 && nms.iou <= 1)) throw new Error(`${source}: --iou must be in [0, 1], got ${nms.iou}`);
    if (!(Number.isInteger(nms.maxDet) && nms.maxDet >= 1)) throw new Error(`${source}: --max-det must be a positive integer, got ${nms.maxDet}`);
  }
  const names = opts.names ?? Array.from({ length: model.nc }, (_, i) => String(i));
  if (names.length !== model.nc) throw new Error(`${source}: ${names.length} class names for a model with ${model.nc} classes`);

  const dep = deployableModel(model);
  try {
    if (!(dep.head instanceof DDetect)) throw new Error(`${source}: --nms and the decoded output need a detection head (DDetect), the model ends with ${dep.head.constructor.name}`);
    const entries = [...dep.stateEntries()];
    const data = await Promise.all(entries.map(([, t]) => t.data()));
    const host = new Map(entries.map(([, t], i) => [t, data[i]] as const));
    const names2 = new Map(entries.map(([k, t]) => [t, k] as const));
    const elem = opts.half ? 'f16' : 'f32';
    const g = new OnnxGraphBuilder(opset);
    const em = new Emitter(g, host, names2, elem);
    const outs: (string | string[])[] = [];
    const rows = dep.rows;
    for (let i = 0; i < rows.length - 1; i++) {
      const r = rows[i];
      const m = dep.layers[i];
      const get = (j: number): string | string[] => (j === -1 ? 'images' : outs[j]);
      if (m instanceof CBFuse) {
        const f = r.from as number[];
        outs.push(em.cbfuse(m, f.slice(0, -1).map((j) => get(j) as string[]), get(f[f.length - 1]) as string));
      } else outs.push(em.block(m, Array.isArray(r.from) ? r.from.map((j) => get(j) as string) : get(r.from)));
    }
    const headFrom = rows[rows.length - 1].from as number[];
    const out0 = em.head(dep.head, headFrom.map((j) => outs[j] as string));
    const B: number | string = opts.dynamic ? 'batch' : batch;
    const inputs: OnnxValueInfo[] = [{ name: 'images', elem, dims: opts.dynamic ? ['batch', 3, 'height', 'width'] : [batch, 3, H, W] }];
    const anchors = dep.head.strides.reduce((s, st) => s + (H / st) * (W / st), 0);
    let outputs: OnnxValueInfo[];
    if (nms) {
      const r = em.nms(out0, dep.nc, nms);
      g.output(r.num, 'num_dets');
      g.output(r.boxes, 'det_boxes');
      g.output(r.scores, 'det_scores');
      g.output(r.classes, 'det_classes');
      outputs = [
        { name: 'num_dets', elem: 'i32', dims: [B, 1] },
        { name: 'det_boxes', elem: 'f32', dims: [B, nms.maxDet, 4] },
        { name: 'det_scores', elem: 'f32', dims: [B, nms.maxDet] },
        { name: 'det_classes', elem: 'i32', dims: [B, nms.maxDet] },
      ];
    } else {
      g.output(out0, 'output0');
      outputs = [{ name: 'output0', elem: 'f32', dims: [B, 4 + dep.nc, opts.dynamic ? 'anchors' : anchors] }];
    }
    const metadata: Record<string, string> = {
      stride: String(dep.maxStride),
      names: pyNames(names),
      imgsz: `[${H}, ${W}]`,
      batch: String(opts.dynamic ? 'dynamic' : batch),
      half: String(!!opts.half),
      source,
      ...(nms ? { nms: JSON.stringify(nms) } : {}),
    };
    return encodeOnnx(g.graph(dep.config.source, inputs, outputs), { opset, metadata, producer: 'gelan-webgpu' });
  } finally {
    dep.dispose();
  }
}
