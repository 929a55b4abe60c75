// The benchmark cases: GELAN layer shapes (conv forward, input gradient, weight gradient), a matmul, a
// RepNCSPELAN4 block and whole models. FLOPs count 2 × multiply-adds of the convolutions / matmuls only
// (BatchNorm, SiLU, pooling and copies are not counted), the usual GFLOPs convention.

export type ConvPass = 'fwd' | 'dgrad' | 'wgrad';

export interface ConvSpec {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  /** Output channels. */
  readonly o: number;
  readonly k: number;
  readonly stride: number;
  readonly pad: number;
  readonly groups: number;
}

export interface ConvCase extends ConvSpec {
  readonly kind: 'conv';
  readonly name: string;
  readonly pass: ConvPass;
}

export interface MatmulCase {
  readonly kind: 'matmul';
  readonly name: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

/** RepNCSPELAN4(c1, c2, c3, c4, c5) forward in training mode + backward to every parameter. */
export interface BlockCase {
  readonly kind: 'block';
  readonly name: string;
  readonly n: number;
  readonly c1: number;
  readonly c2: number;
  readonly c3: number;
  readonly c4: number;
  readonly c5: number;
  readonly h: number;
  readonly w: number;
}

/** A whole model: forward (eval mode, no graph) or a training step (train mode, forward + backward). */
export interface ModelCase {
  readonly kind: 'model';
  readonly name: string;
  readonly cfg: string;
  readonly size: number;
  readonly batch: number;
  readonly train: boolean;
}

export type Case = ConvCase | MatmulCase | BlockCase | ModelCase;

export const convOut = (s: ConvSpec): [number, number] => [
  Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1,
  Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1,
];

/** 2 × N·O·OH·OW·(C/g)·k² — the same count for the forward, the input gradient and the weight gradient. */
export function convFlops(s: ConvSpec): number {
  const [oh, ow] = convOut(s);
  return 2 * s.n * s.o * oh * ow * (s.c / s.groups) * s.k * s.k;
}

/** The convolutions of RepNCSPELAN4(c1, c2, c3, c4, c5) at h×w (stride 1 everywhere), in forward order. */
export function blockConvs(b: BlockCase): ConvSpec[] {
  const conv = (c: number, o: number, k: number): ConvSpec => ({ n: b.n, c, h: b.h, w: b.w, o, k, stride: 1, pad: k >> 1, groups: 1 });
  // RepNCSP(c1, c2, n): cv1, cv2 1×1 to h = c2/2; n × RepNBottleneck(h, h, e=1): RepConvN (3×3 + 1×1) and a 3×3
  // conv; cv3 1×1 from 2h to c2.
  const repncsp = (c1: number, c2: number, n: number): ConvSpec[] => {
    const h = Math.trunc(c2 * 0.5);
    const m = Array.from({ length: n }, () => [conv(h, h, 3), conv(h, h, 1), conv(h, h, 3)]).flat();
    return [conv(c1, h, 1), ...m, conv(c1, h, 1), conv(2 * h, c2, 1)];
  };
  return [
    conv(b.c1, b.c3, 1), // cv1
    ...repncsp(Math.floor(b.c3 / 2), b.c4, b.c5), // cv2.0
    conv(b.c4, b.c4, 3), // cv2.1
    ...repncsp(b.c4, b.c4, b.c5), // cv3.0
    conv(b.c4, b.c4, 3), // cv3.1
    conv(b.c3 + 2 * b.c4, b.c2, 1), // cv4
  ];
}

/**
 * Forward + backward FLOPs of the block: every conv's forward and weight gradient, and every input gradient
 * except the first conv's (the block input does not require a gradient).
 */
export function blockFlops(b: BlockCase): number {
  const convs = blockConvs(b);
  const f = convs.map(convFlops);
  return 3 * f.reduce((a, x) => a + x, 0) - f[0];
}

function convCases(tag: string, s: ConvSpec, passes: readonly ConvPass[] = ['fwd', 'dgrad', 'wgrad']): ConvCase[] {
  return passes.map((pass) => ({ kind: 'conv', name: `${tag} ${pass}`, pass, ...s }));
}

const cs = (n: number, c: number, h: number, o: number, k: number, stride = 1, groups = 1): ConvSpec => ({
  n,
  c,
  h,
  w: h,
  o,
  k,
  stride,
  pad: k >> 1,
  groups,
});

/** Every case, in run order. Model FLOPs are filled in by the runner (they need the built model). */
export function allCases(): Case[] {
  return [
    ...convCases('conv3x3 1x64x80x80>64', cs(1, 64, 80, 64, 3)),
    ...convCases('conv3x3 1x128x40x40>128', cs(1, 128, 40, 128, 3)),
    ...convCases('conv3x3s2 1x32x160x160>64', cs(1, 32, 160, 64, 3, 2)),
    ...convCases('conv1x1 1x256x20x20>256', cs(1, 256, 20, 256, 1)),
    ...convCases('conv3x3g4 1x64x40x40>64', cs(1, 64, 40, 64, 3, 1, 4)),
    ...convCases('conv3x3 8x64x80x80>64', cs(8, 64, 80, 64, 3)),
    ...convCases('conv3x3 8x128x40x40>128', cs(8, 128, 40, 128, 3), ['fwd']),
    { kind: 'matmul', name: 'matmul 1024x1024x1024', m: 1024, k: 1024, n: 1024 },
    // gelan-t row 4 (RepNCSPELAN4 [64, 64, 32, 3] on the 64-channel stride-8 map) at a 640 input
    { kind: 'block', name: 'RepNCSPELAN4 1x64x80x80 (gelan-t #4) fwd+bwd', n: 1, c1: 64, c2: 64, c3: 64, c4: 32, c5: 3, h: 80, w: 80 },
    ...(['gelan-t', 'yolov9-t'] as const).flatMap((cfg) =>
      [320, 640].flatMap((size) => [
        { kind: 'model' as const, name: `${cfg} ${size} forward`, cfg, size, batch: 1, train: false },
        { kind: 'model' as const, name: `${cfg} ${size} train step`, cfg, size, batch: 1, train: true },
      ]),
    ),
  ];
}

/** FLOPs of the conv, matmul and block cases (models: see modelFlops). */
export function caseFlops(c: Case): number {
  switch (c.kind) {
    case 'conv':
      return convFlops(c);
    case 'matmul':
      return 2 * c.m * c.k * c.n;
    case 'block':
      return blockFlops(c);
    case 'model':
      return NaN;
  }
}

/** Deterministic pseudo-random data in [-1, 1) (an LCG: the same bytes for every implementation). */
export function randomData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}
