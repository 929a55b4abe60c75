// The example's input image and conv weights (pure data, also used by its test to compute the expected pixels).

export const WIDTH = 64;
export const HEIGHT = 64;

/** A (1, 2, HEIGHT, WIDTH) input: a radial ripple and a diagonal gradient, in [-1, 1]. */
export function exampleInput(): Float32Array {
  const x = new Float32Array(2 * HEIGHT * WIDTH);
  for (let i = 0; i < HEIGHT; i++) {
    for (let j = 0; j < WIDTH; j++) {
      const u = (j + 0.5) / WIDTH - 0.5;
      const v = (i + 0.5) / HEIGHT - 0.5;
      x[i * WIDTH + j] = Math.cos(28 * Math.hypot(u, v));
      x[HEIGHT * WIDTH + i * WIDTH + j] = u + v;
    }
  }
  return x;
}

/** Conv weights (3 out, 2 in, 3, 3): red sharpens the ripple, green blurs it, blue follows the gradient. */
export function exampleWeights(): { weight: Float32Array; bias: Float32Array } {
  const w = new Float32Array(3 * 2 * 9);
  const set = (o: number, c: number, k: number[]): void => k.forEach((v, t) => void (w[(o * 2 + c) * 9 + t] = v));
  set(0, 0, [0, -1, 0, -1, 6, -1, 0, -1, 0]);
  set(0, 1, [0, 0, 0, 0, 1, 0, 0, 0, 0]);
  set(1, 0, [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]);
  set(1, 1, [0, 0, 0, 0, -2, 0, 0, 0, 0]);
  set(2, 0, [0, 0, 0, 0, -0.5, 0, 0, 0, 0]);
  set(2, 1, [0.5, 0.5, 0.5, 0, 0, 0, 0.5, 0.5, 0.5]);
  return { weight: w, bias: new Float32Array([0, 0.2, -0.2]) };
}

/** Planar (3, H, W) values in [0, 1] → RGBA8 texels (alpha 255). */
export function toRgba8(planes: ArrayLike<number>, width = WIDTH, height = HEIGHT): Uint8Array<ArrayBuffer> {
  const n = width * height;
  const out = new Uint8Array(4 * n);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) out[4 * p + c] = Math.round(Math.min(1, Math.max(0, planes[c * n + p])) * 255);
    out[4 * p + 3] = 255;
  }
  return out;
}
