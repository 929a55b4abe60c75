// SGD with Nesterov momentum (the official default) and AdamW (amsgrad, as the official option), over the
// official parameter groups, with global gradient-norm clipping. Every update is an in-place GPU kernel; the
// clip factor stays on the GPU, so a step records work and never waits.
import { OPT_WG, adamwKernel, sgdKernel } from '../../kernels/optim.wgsl';
import type { Device } from '../../engine/device';
import { type Tensor, noGrad, zerosLike } from '../../engine';
import { concat, minimum, mul, powScalar, reshape, scale, sqrt, sum, full } from '../../engine/ops';
import type { Module } from '../../models/module';
import { type GroupName, type ParamRef, GROUP_ORDER, parameterGroups } from './groups';

export interface GroupSettings {
  lr: number;
  momentum: number;
  weightDecay: number;
}

export type OptimizerName = 'SGD' | 'AdamW';

export interface OptimizerOptions {
  readonly name?: OptimizerName;
  readonly lr: number;
  /** SGD momentum / Adam β1. */
  readonly momentum: number;
  /** Decay of group 'weight' (already scaled to the nominal batch by the caller). */
  readonly weightDecay: number;
  /** Clip the global L2 norm of all gradients to this (official: 10). 0 disables. */
  readonly maxGradNorm?: number;
}

export class Optimizer {
  readonly name: OptimizerName;
  readonly groups: Record<GroupName, GroupSettings>;
  readonly refs: readonly ParamRef[];
  readonly maxGradNorm: number;
  /** Per parameter key: momentum buffer (SGD) or [m, v, vmax] (AdamW). */
  readonly state = new Map<string, Tensor[]>();
  /** Completed steps (Adam's t; SGD's first-step test). */
  steps = 0;
  /** The clip factor of the last step (a 1-element GPU tensor), for inspection. */
  lastClip: Tensor | null = null;

  constructor(private readonly model: Module, o: OptimizerOptions) {
    this.name = o.name ?? 'SGD';
    const g = parameterGroups(model);
    this.refs = GROUP_ORDER.flatMap((k) => g[k]);
    this.groups = {
      bias: { lr: o.lr, momentum: o.momentum, weightDecay: 0 },
      weight: { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay },
      bn: { lr: o.lr, momentum: o.momentum, weightDecay: 0 },
    };
    this.maxGradNorm = o.maxGradNorm ?? 10;
  }

  private get device(): Device {
    return this.model.device;
  }

  /** Parameters that have a gradient now, with their settings. */
  private live(): { ref: ParamRef; p: Tensor; g: Tensor }[] {
    const params = new Map([...this.model.namedParameters()]);
    const out: { ref: ParamRef; p: Tensor; g: Tensor }[] = [];
    for (const ref of this.refs) {
      const p = params.get(ref.key);
      if (p?.grad) out.push({ ref, p, g: p.grad });
    }
    return out;
  }

  /** min(1, max / (‖g‖₂ + 1e-6)) over all gradients, as a (1) tensor (torch.nn.utils.clip_grad_norm_). */
  private clipFactor(grads: readonly Tensor[]): Tensor {
    if (!(this.maxGradNorm > 0) || grads.length === 0) return full(this.device, [1], 1);
    const sq = grads.map((g) => reshape(sum(mul(g, g)), [1]));
    const norm = sqrt(sum(concat(sq, 0)));
    return reshape(minimum(scale(powScalar(scale(norm, 1, 1e-6), -1), this.maxGradNorm), full(this.device, [], 1)), [1]);
  }

  /** One update of every parameter with a gradient; gradients are left in place (call zeroGrad()). */
  step(): void {
    const dev = this.device;
    noGrad(dev, () => {
      const live = this.live();
      const factor = this.clipFactor(live.map((x) => x.g)).keep();
      this.lastClip?.dispose();
      this.lastClip = factor;
      const t = this.steps + 1;
      for (const { ref, p, g } of live) {
        const s = this.groups[ref.group];
        if (!(p.isContiguous && p.offset === 0 && g.isContiguous && g.offset === 0)) throw new Error(`optimizer: ${ref.key} is not a dense tensor`);
        let st = this.state.get(ref.key);
        if (!st) {
          st = (this.name === 'SGD' ? [zerosLike(p)] : [zerosLike(p), zerosLike(p), zerosLike(p)]).map((x) => x.keep());
          this.state.set(ref.key, st);
        }
        const bufs = (ts: Tensor[]) => ts.map((x) => x.storage.buf);
        if (this.name === 'SGD') {
          dev.dispatch(sgdKernel({ nesterov: true }), bufs([p, g, st[0], factor]), { n: p.size, first: this.steps === 0 ? 1 : 0, lr: s.lr, momentum: s.momentum, wd: s.weightDecay }, dev.grid1d(p.size, OPT_WG));
        } else {
          const b1 = s.momentum;
          const b2 = 0.999;
          dev.dispatch(
            adamwKernel(),
            bufs([p, g, st[0], st[1], st[2], factor]),
            { n: p.size, lr: s.lr, beta1: b1, beta2: b2, eps: 1e-8, wd: s.weightDecay, bc1: 1 - b1 ** t, bc2sqrt: Math.sqrt(1 - b2 ** t) },
            dev.grid1d(p.size, OPT_WG),
          );
        }
      }
    });
    this.steps++;
  }

  zeroGrad(): void {
    for (const [, p] of this.model.namedParameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  dispose(): void {
    for (const st of this.state.values()) st.forEach((t) => t.dispose());
    this.state.clear();
    this.lastClip?.dispose();
    this.lastClip = null;
  }
}
