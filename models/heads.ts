// Detection heads: DDetect (one branch) and DualDDetect (auxiliary + main branch of PGI). Training mode returns
// the raw per-level maps (B, 64 + nc, H, W) for the loss; eval mode also decodes them (DFL expectation, anchor
// points at cell centres, xywh × stride) into (B, 4 + nc, anchors) as the official inference does.
import type { Device } from '../engine/device';
import { type Tensor, tensor } from '../engine/tensor';
import { add, cast, concat, mul, reshape, scale, sigmoid, slice, softmax, sub, sum } from '../engine/ops';
import { type Value, Block, Module } from './module';
import { Conv2d } from './layers';
import { type Ctx, Sequential, conv } from './blocks';

/** DFL bins per box side (the official reg_max). */
export const REG_MAX = 16;

/** The frozen DFL "conv": its weight holds the bin values 0…15 (state-dict key `dfl.conv.weight`). */
class DflWeight extends Module {
  constructor(device: Device) {
    super(device);
    let i = 0;
    this.param('weight', [1, REG_MAX, 1, 1], () => i++, false);
  }
  get weight(): Tensor {
    return this.getParam('weight');
  }
}

export class DFL extends Module {
  readonly conv: DflWeight;
  constructor(device: Device) {
    super(device);
    this.conv = this.child('conv', new DflWeight(device));
  }
  /** (B, 64, A) side-major logits → (B, 4, A) expected distances in grid units. */
  forward(box: Tensor): Tensor {
    const [B, , A] = box.shape;
    const r = reshape(box, [B, 4, REG_MAX, A]);
    const p = softmax(r, 2);
    const bins = reshape(this.conv.weight, [1, 1, REG_MAX, 1]);
    const e = mul(p, bins);
    const d = sum(e, 2);
    [r, p, bins, e].forEach((t) => t.dispose());
    return d;
  }
}

/** Cell-centre anchor points (x + 0.5, y + 0.5) per level, row-major, and each point's stride. */
export function makeAnchors(shapes: readonly (readonly [number, number])[], strides: readonly number[]): { points: Float32Array; strides: Float32Array } {
  const n = shapes.reduce((s, [h, w]) => s + h * w, 0);
  const points = new Float32Array(2 * n);
  const st = new Float32Array(n);
  let a = 0;
  shapes.forEach(([h, w], l) => {
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++, a++) {
        points[a] = x + 0.5;
        points[n + a] = y + 0.5;
        st[a] = strides[l];
      }
  });
  return { points, strides: st };
}

/** One detection branch: per level a box tower (cv2-style, groups 4) and a class tower (cv3-style), and its DFL. */
export class DetectBranch {
  constructor(
    readonly box: Sequential,
    readonly cls: Sequential,
    readonly dfl: DFL,
    readonly nc: number,
  ) {}
}

/** Box/class towers for `ch` levels, widths from ch[0] (official formulas). */
function towers(device: Device, nc: number, ch: readonly number[], ctx: Ctx): { box: Sequential; cls: Sequential } {
  const cBox = Math.ceil(Math.max(Math.floor(ch[0] / 4), REG_MAX * 4, 16) / 4) * 4;
  const cCls = Math.max(ch[0], Math.min(nc * 2, 128));
  const box = new Sequential(
    device,
    ch.map((c) => new Sequential(device, [conv(device, ctx, c, cBox, 3), conv(device, ctx, cBox, cBox, 3, 1, undefined, 4), new Conv2d(device, { c1: cBox, c2: 4 * REG_MAX, k: 1, g: 4, bias: true }, ctx.rand)])),
  );
  const cls = new Sequential(
    device,
    ch.map((c) => new Sequential(device, [conv(device, ctx, c, cCls, 3), conv(device, ctx, cCls, cCls, 3), new Conv2d(device, { c1: cCls, c2: nc, k: 1, bias: true }, ctx.rand)])),
  );
  return { box, cls };
}

/** The output of one detection head: raw level maps, and the decoded predictions in eval mode. */
export interface BranchOutput {
  /** Raw level maps (B, 64 + nc, H, W). */
  readonly levels: Tensor[];
  /** Decoded (B, 4 + nc, A) in eval mode, else null. */
  readonly y: Tensor | null;
}

abstract class HeadBase extends Block {
  /** Strides of the levels (8, 16, 32 for the YOLOv9 configs), set by the model builder. */
  strides: number[] = [];
  private readonly anchorCache = new Map<string, { points: Tensor; strides: Tensor }>();

  constructor(device: Device, readonly nc: number) {
    super(device);
  }

  protected runBranch(b: DetectBranch, xs: readonly Tensor[]): BranchOutput {
    const levels = xs.map((x, l) => {
      const bx = (b.box.items[l] as Sequential).forward(x) as Tensor;
      const cx = (b.cls.items[l] as Sequential).forward(x) as Tensor;
      const y = concat([bx, cx], 1);
      bx.dispose();
      cx.dispose();
      return y;
    });
    return { levels, y: this.training ? null : this.decode(b, levels) };
  }

  private anchors(levels: readonly Tensor[]): { points: Tensor; strides: Tensor } {
    const shapes = levels.map((t) => [t.shape[2], t.shape[3]] as const);
    const key = JSON.stringify(shapes);
    let hit = this.anchorCache.get(key);
    if (!hit) {
      if (this.strides.length !== levels.length) throw new Error(`detection head: ${levels.length} levels but strides ${JSON.stringify(this.strides)}`);
      const a = makeAnchors(shapes, this.strides);
      const n = a.strides.length;
      hit = { points: tensor(this.device, a.points, [1, 2, n]).keep(), strides: tensor(this.device, a.strides, [1, 1, n]).keep() };
      if (this.anchorCache.size >= 8) this.clearAnchors();
      this.anchorCache.set(key, hit);
    }
    return hit;
  }

  clearAnchors(): void {
    for (const v of this.anchorCache.values()) {
      v.points.dispose();
      v.strides.dispose();
    }
    this.anchorCache.clear();
  }

  /**
   * Flatten levels to (B, 64 + nc, A), decode boxes with the DFL and anchors, append class probabilities. Always
   * in f32: f16 levels are widened first, since f16 steps are 0.5 px at 640 and the decode is a tiny share of the work.
   */
  decode(b: DetectBranch, levels: readonly Tensor[]): Tensor {
    const B = levels[0].shape[0];
    const no = REG_MAX * 4 + b.nc;
    const flat = levels.map((t) => reshape(t, [B, no, -1]));
    const cat = concat(flat, 2);
    flat.forEach((t) => t.dispose());
    const x = cat.dtype === 'f32' ? cat : cast(cat, 'f32');
    if (x !== cat) cat.dispose();
    const { points, strides } = this.anchors(levels);
    const box = slice(x, 1, 0, REG_MAX * 4);
    const cls = slice(x, 1, REG_MAX * 4, no);
    const d = b.dfl.forward(box);
    const lt = slice(d, 1, 0, 2);
    const rb = slice(d, 1, 2, 4);
    const x1y1 = sub(points, lt);
    const x2y2 = add(points, rb);
    const s = add(x1y1, x2y2);
    const cxy = scale(s, 0.5);
    const wh = sub(x2y2, x1y1);
    const xywh = concat([cxy, wh], 1);
    const dbox = mul(xywh, strides);
    const prob = sigmoid(cls);
    const y = concat([dbox, prob], 1);
    [x, box, cls, d, lt, rb, x1y1, x2y2, s, cxy, wh, xywh, dbox, prob].forEach((t) => t.dispose());
    return y;
  }

  /** Official bias init: box biases 1.0, class biases ln(5 / nc / (640 / stride)²). */
  protected initBiases(b: DetectBranch): void {
    b.box.items.forEach((tower, l) => {
      const last = (tower as Sequential).items[2] as Conv2d;
      const s = this.strides[l];
      last.setTensor('bias', tensor(this.device, new Float32Array(4 * REG_MAX).fill(1), [4 * REG_MAX]));
      const clsLast = ((b.cls.items[l] as Sequential).items[2]) as Conv2d;
      clsLast.setTensor('bias', tensor(this.device, new Float32Array(b.nc).fill(Math.log(5 / b.nc / (640 / s) ** 2)), [b.nc]));
    });
  }

  abstract initBias(): void;

  override dispose(): void {
    this.clearAnchors();
    super.dispose();
  }
}

/** Single-branch head (GELAN models and converted YOLOv9 models). State-dict keys cv2.*, cv3.*, dfl.*. */
export class DDetect extends HeadBase {
  readonly branch: DetectBranch;
  constructor(device: Device, nc: number, ch: readonly number[], ctx: Ctx) {
    super(device, nc);
    const t = towers(device, nc, ch, ctx);
    this.child('cv2', t.box);
    this.child('cv3', t.cls);
    this.branch = new DetectBranch(t.box, t.cls, this.child('dfl', new DFL(device)), nc);
  }
  initBias(): void {
    this.initBiases(this.branch);
  }
  forward(x: Value): Tensor[] {
    const r = this.run(x);
    return r.y ? [r.y, ...r.levels] : r.levels;
  }
  run(x: Value): BranchOutput {
    if (!Array.isArray(x)) throw new Error('DDetect expects the list of level feature maps');
    return this.runBranch(this.branch, x);
  }
}

/** PGI head: auxiliary branch (cv2, cv3, dfl) on the first half of the inputs, main (cv4, cv5, dfl2) on the rest. */
export class DualDDetect extends HeadBase {
  readonly aux: DetectBranch;
  readonly main: DetectBranch;
  constructor(device: Device, nc: number, ch: readonly number[], ctx: Ctx) {
    super(device, nc);
    const nl = ch.length / 2;
    if (!Number.isInteger(nl)) throw new Error(`DualDDetect needs an even number of inputs, got ${ch.length}`);
    const a = towers(device, nc, ch.slice(0, nl), ctx);
    this.child('cv2', a.box);
    this.child('cv3', a.cls);
    const m = towers(device, nc, ch.slice(nl), ctx);
    this.child('cv4', m.box);
    this.child('cv5', m.cls);
    this.aux = new DetectBranch(a.box, a.cls, this.child('dfl', new DFL(device)), nc);
    this.main = new DetectBranch(m.box, m.cls, this.child('dfl2', new DFL(device)), nc);
  }
  initBias(): void {
    this.initBiases(this.aux);
    this.initBiases(this.main);
  }
  forward(x: Value): Tensor[] {
    const { aux, main } = this.run(x);
    return [...(main.y ? [main.y] : []), ...(aux.y ? [aux.y] : []), ...aux.levels, ...main.levels];
  }
  run(x: Value): { aux: BranchOutput; main: BranchOutput } {
    if (!Array.isArray(x) || x.length % 2 !== 0) throw new Error('DualDDetect expects aux and main level feature maps');
    const nl = x.length / 2;
    return { aux: this.runBranch(this.aux, x.slice(0, nl)), main: this.runBranch(this.main, x.slice(nl)) };
  }
}

export type Head = DDetect | DualDDetect;
