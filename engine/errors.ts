// Errors that name what was wrong: the op, the shapes, the attribute.

export const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Raised for bad arguments to an op; the message starts with the op name. */
export class OpError extends Error {
  constructor(readonly op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'OpError';
  }
}

/** Raised by every call after the GPU device was lost (and by the calls pending when it happened). */
export class DeviceLostError extends Error {
  constructor(readonly reason: string) {
    super(`GPU device lost: ${reason}. Create a new device (createDevice) to continue; tensors of the lost device cannot be used.`);
    this.name = 'DeviceLostError';
  }
}

/** No WebGPU adapter: says what to install. */
export class NoAdapterError extends Error {
  constructor(detail: string) {
    super(`No WebGPU adapter found. ${detail}`);
    this.name = 'NoAdapterError';
  }
}
