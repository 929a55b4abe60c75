// Learning-rate schedules and warmup of the official training loop (train.py): a per-epoch LambdaLR (linear or
// cosine from 1 to lrf) and per-iteration warmup of the learning rate, momentum and gradient accumulation.
import { roundHalfEven } from '../data/round';

/** Learning-rate schedule over epochs: linear, cosine or fixed. */
export type ScheduleKind = 'linear' | 'cosine' | 'fixed';

/** λ(e) for epoch e of E. */
export function lrLambda(kind: ScheduleKind, epoch: number, epochs: number, lrf: number): number {
  if (kind === 'fixed') return 1;
  if (kind === 'cosine') return ((1 - Math.cos((epoch * Math.PI) / epochs)) / 2) * (lrf - 1) + 1;
  return (1 - epoch / epochs) * (1 - lrf) + lrf;
}

/** Python's round(): half to even (JS Math.round rounds half up). */
export const pyRound = roundHalfEven;

export interface WarmupState {
  readonly lr: { bias: number; weight: number; bn: number };
  readonly momentum: number;
  readonly accumulate: number;
}

export interface WarmupOptions {
  readonly lr0: number;
  readonly momentum: number;
  readonly warmupBiasLr: number;
  readonly warmupMomentum: number;
  /** Warmup length in iterations: max(round(warmup_epochs · batches per epoch), 100). */
  readonly warmupIters: number;
  readonly batch: number;
  readonly nominalBatch?: number;
}

/** The official warmup at global iteration ni (interpolation towards the epoch's scheduled lr). */
export function warmup(ni: number, lambda: number, o: WarmupOptions): WarmupState | null {
  if (ni > o.warmupIters) return null;
  const f = ni / o.warmupIters;
  const interp = (a: number, b: number): number => a + f * (b - a);
  const target = o.lr0 * lambda;
  const nbs = o.nominalBatch ?? 64;
  return {
    lr: { bias: interp(o.warmupBiasLr, target), weight: interp(0, target), bn: interp(0, target) },
    momentum: interp(o.warmupMomentum, o.momentum),
    accumulate: Math.max(1, pyRound(interp(1, nbs / o.batch))),
  };
}

/** Steps of gradient accumulation to reach the nominal batch, and the weight decay scaled accordingly. */
export function nominalBatch(batch: number, weightDecay: number, nbs = 64): { accumulate: number; weightDecay: number } {
  const accumulate = Math.max(pyRound(nbs / batch), 1);
  return { accumulate, weightDecay: (weightDecay * batch * accumulate) / nbs };
}
