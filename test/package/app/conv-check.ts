// A consumer of the packed package: one conv on the GPU against the same conv computed here in float64.
import { type Device, conv2d, createDevice, tensor } from 'gelan-webgpu';

export interface ConvCheck {
  readonly adapter: string;
  readonly outputs: number;
  readonly maxAbsError: number;
  /** The first output, for the log. */
  readonly first: number;
}

const [N, C, H, W, K, R] = [1, 3, 8, 8, 4, 3];

export async function convCheck(device?: GPUDevice): Promise<ConvCheck> {
  const dev: Device = await createDevice(device ? { device } : {});
  const x = Array.from({ length: N * C * H * W }, (_, i) => Math.sin(i * 0.37));
  const w = Array.from({ length: K * C * R * R }, (_, i) => 0.2 * Math.cos(i * 0.11));
  const b = Array.from({ length: K }, (_, i) => 0.1 * i - 0.15);
  const y = conv2d(tensor(dev, x, [N, C, H, W]), tensor(dev, w, [K, C, R, R]), tensor(dev, b, [K]), { stride: 1, padding: 1 });
  const got = await y.data();
  let maxAbsError = 0;
  for (let k = 0; k < K; k++) {
    for (let oy = 0; oy < H; oy++) {
      for (let ox = 0; ox < W; ox++) {
        let s = b[k];
        for (let c = 0; c < C; c++) {
          for (let ky = 0; ky < R; ky++) {
            for (let kx = 0; kx < R; kx++) {
              const iy = oy + ky - 1;
              const ix = ox + kx - 1;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) s += x[(c * H + iy) * W + ix] * w[((k * C + c) * R + ky) * R + kx];
            }
          }
        }
        maxAbsError = Math.max(maxAbsError, Math.abs(got[(k * H + oy) * W + ox] - s));
      }
    }
  }
  const result = { adapter: dev.adapter.description, outputs: got.length, maxAbsError, first: got[0] };
  dev.dispose();
  return result;
}
