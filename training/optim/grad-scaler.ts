// Dynamic loss scaling for mixed-precision training (torch.cuda.amp.GradScaler semantics): the loss is multiplied
// by S before backward() so small f16 gradients stay representable; Optimizer.step(scaler) unscales them, skips
// the step when they overflowed (inf/NaN) and halves S, and doubles S after `growthInterval` steps without
// overflow. S lives on the GPU next to the optimiser's clip factor, so none of this needs a read-back.
import type { Device } from '../../engine/device';
import { type Tensor, tensor } from '../../engine/tensor';
import { mul, slice } from '../../engine/ops';
import { OpError } from '../../engine/errors';

/** Options of GradScaler (torch.cuda.amp.GradScaler's). */
export interface GradScalerOptions {
  /** Initial scale (PyTorch: 2^16). */
  readonly initScale?: number;
  /** Good steps before the scale doubles (PyTorch: 2000). */
  readonly growthInterval?: number;
}

/** Dynamic loss scaling for mixed-precision training (torch.cuda.amp.GradScaler semantics), kept on the GPU. */
export class GradScaler {
  /** [scale, good steps since the last change], updated by the optimiser step. */
  readonly state: Tensor;
  readonly growthInterval: number;

  constructor(device: Device, opts: GradScalerOptions = {}) {
    const init = opts.initScale ?? 2 ** 16;
    this.growthInterval = opts.growthInterval ?? 2000;
    if (!(init >= 1 && Number.isFinite(init))) throw new OpError('GradScaler', `initScale must be a finite number ≥ 1, got ${init}`);
    if (!(Number.isInteger(this.growthInterval) && this.growthInterval >= 1)) throw new OpError('GradScaler', `growthInterval must be a positive integer, got ${this.growthInterval}`);
    this.state = tensor(device, [init, 0], [2]).keep();
  }

  /** loss · S, to call backward() on. */
  scale(loss: Tensor): Tensor {
    const s = slice(this.state, 0, 0, 1);
    const out = mul(loss, s);
    s.dispose();
    return out;
  }

  /** The current scale and good-step count (a read-back: for logs and tests, not the step loop). */
  async read(): Promise<{ scale: number; goodSteps: number }> {
    const [scale, goodSteps] = await this.state.data();
    return { scale, goodSteps };
  }

  /** Frees the scaler's GPU state. */
  dispose(): void {
    this.state.dispose();
  }
}
