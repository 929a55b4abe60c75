// GPU forward vs the float64 CPU reference (test/reference/ops.ts) on seeded random shapes beyond the PyTorch
// fixtures: odd sizes, batches, every conv variant, the kernels' other schedules (group-mode and two-pass
// reductions, 4-wide conv tiles, large K matmul) and non-contiguous views as inputs. Inputs are float32; the
// reference is exact for them, so the tolerances below bound the float32 error of each kernel.
import { afterAll, beforeAll, describe, test } from 'vitest';
import type { Device } from '../../engine/device';
import type { Tensor } from '../../engine/tensor';
import * as ops from '../../engine/ops';
import { BINARY, UNARY, type BinaryOp, type UnaryOp } from '../../engine/ops/elementwise';
import { testDevice } from '../helpers';
import * as ref from '../reference/ops';
import type { NdArray } from '../reference/ops';
import { type Rand, distinct, normal, toGpu, uniform } from '../reference/data';
import { type Pair, expectClose as check } from './checks';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const worst = new Map<string, number>();

const expectClose = (op: string, tol: readonly [number, number], build: (r: Rand) => Pair[], seed = 1): Promise<void> => check(dev, worst, op, tol, build, seed);

const up = (a: NdArray): Tensor => toGpu(dev, a);

// Tolerances [atol, rtol], one reason each.
const EXACT = [0, 0] as const; // data movement, comparisons, max/min selection: no rounding at all
const POINTWISE = [1e-5, 1e-5] as const; // one float32 rounding; llvmpipe exp/log/pow are within a few ulp
const SUM = [2e-5, 2e-5] as const; // float32 sums of up to ~300 O(1) terms: error ~ sqrt(R)·ulp·|terms|
const BIG_SUM = [2e-3, 1e-5] as const; // ~25000 O(1) terms: |sum| ~ 150, accumulated rounding ~1e-4 absolute
const MATMUL = [1e-4, 1e-5] as const; // K <= 1000 products of N(0,1): |dot| ~ 30, error ~ sqrt(K)·ulp·30
const NORM = [1e-4, 1e-4] as const; // batch statistics and rsqrt in float32 over <= 400 values

// ---- elementwise ----------------------------------------------------------------------------------------------

describe('elementwise', () => {
  const positive = new Set<UnaryOp>(['log', 'sqrt']);
  const exact = new Set<string>(['neg', 'abs', 'relu', 'clamp', 'identity', 'maximum', 'minimum', 'gt', 'ge', 'lt', 'le', 'eq', 'ne']);
  const input = (r: Rand, op: UnaryOp, shape: number[]): NdArray => (positive.has(op) ? uniform(r, shape, 0.05, 4) : ref.scale(normal(r, shape), 2));

  // Scalar constants reach the kernel as float32: pick exactly representable ones so the reference sees the same.
  for (const op of Object.keys(UNARY) as UnaryOp[]) {
    const [s0, s1] = op === 'clamp' ? [-0.5, 0.75] : op === 'powScalar' ? [3, 0] : op === 'scale' ? [1.5, -0.25] : [0, 0];
    test(`${op} on [3,5,7] and on a permuted / offset view`, async () => {
      await expectClose(op, exact.has(op) ? EXACT : POINTWISE, (r) => {
        const x = input(r, op, [3, 5, 7]);
        const xt = up(x);
        const view = ops.permute(xt, [2, 0, 1]); // strided path
        const part = ops.slice(xt, 0, 1, 3); // dense with an offset
        return [
          [ops.unary(op, xt, s0, s1), ref.unary(op, x, s0, s1)],
          [ops.unary(op, view, s0, s1), ref.unary(op, ref.permute(x, [2, 0, 1]), s0, s1)],
          [ops.unary(op, part, s0, s1), ref.unary(op, ref.slice(x, 0, 1, 3), s0, s1)],
        ];
      });
    });
  }

  test('powScalar: integer exponents of negative bases, fractional and negative exponents', async () => {
    await expectClose('powScalar', POINTWISE, (r) => {
      const x = ref.scale(normal(r, [67]), 1.5);
      const p = uniform(r, [67], 0.2, 3);
      return [
        ...[2, 3, -1, 0].map((e): [Tensor, NdArray] => [ops.powScalar(up(x), e), ref.powScalar(x, e)]),
        ...[0.5, -1.5, 2.5].map((e): [Tensor, NdArray] => [ops.powScalar(up(p), e), ref.powScalar(p, e)]),
      ];
    });
  });

  test('clamp and scale with other constants', async () => {
    await expectClose('clamp', EXACT, (r) => {
      const x = normal(r, [4, 33]);
      return [[ops.clamp(up(x), -0.125, 0.0625), ref.clamp(x, -0.125, 0.0625)], [ops.clamp(up(x), 0, 0), ref.clamp(x, 0, 0)]];
    });
    await expectClose('scale', POINTWISE, (r) => {
      const x = normal(r, [4, 33]);
      return [[ops.scale(up(x), -3, 7), ref.scale(x, -3, 7)], [ops.scale(up(x), 0.125), ref.scale(x, 0.125)]];
    });
  });

  for (const op of Object.keys(BINARY) as BinaryOp[]) {
    test(`${op} with broadcasting [4,1,6] x [5,1], reversed, and on expanded / transposed views`, async () => {
      await expectClose(op, exact.has(op) ? EXACT : POINTWISE, (r) => {
        // pow needs positive bases; comparisons get a small value set so that ties (eq, ge, le) occur.
        const draw = (shape: number[], second: boolean): NdArray =>
          op === 'pow' && !second
            ? uniform(r, shape, 0.1, 3)
            : op === 'div' && second
              ? uniform(r, shape, 0.5, 2)
              : BINARY[op].grads === null
                ? ref.nd(shape, Array.from({ length: ref.numel(shape) }, () => Math.floor(r() * 4) - 1))
                : normal(r, shape);
        const a = draw([4, 1, 6], false);
        const b = draw([5, 1], true);
        const a2 = draw([5, 1], false);
        const b2 = draw([4, 1, 6], true);
        const c = draw([6, 5], false);
        const d = draw([5, 6], true);
        return [
          [ops.binary(op, up(a), up(b)), ref.binary(op, a, b)],
          [ops.binary(op, up(a2), up(b2)), ref.binary(op, a2, b2)],
          [ops.binary(op, ops.expand(up(a), [4, 5, 6]), up(b)), ref.binary(op, ref.expand(a, [4, 5, 6]), b)],
          [ops.binary(op, ops.transpose(up(c), 0, 1), up(d)), ref.binary(op, ref.transpose(c, 0, 1), d)],
        ];
      });
    });
  }

  test('a 4.5M-element input (more than 65535 workgroups: 2-D dispatch grid)', async () => {
    await expectClose('scale', POINTWISE, (r) => {
      const x = normal(r, [4_500_000]);
      return [[ops.scale(up(x), 0.5, 1), ref.scale(x, 0.5, 1)]];
    });
  });

  test('where with three-way broadcasting and a non-binary condition', async () => {
    await expectClose('where', EXACT, (r) => {
      const cond = ref.nd([4, 1, 1], [0.5, 0, -2, 1e-30]); // any nonzero selects a
      const a = normal(r, [4, 5, 6]);
      const b = normal(r, [6]);
      const c2 = ref.nd([5, 1], [0, 1, 1, 0, 1]);
      return [
        [ops.where(up(cond), up(a), up(b)), ref.where(cond, a, b)],
        [ops.where(up(c2), up(b), ops.permute(up(a), [0, 1, 2])), ref.where(c2, b, a)],
      ];
    });
  });
});

// ---- reductions ----------------------------------------------------------------------------------------------

describe('reductions', () => {
  const axesList: (number | number[] | undefined)[] = [undefined, 0, 1, 2, -1, [0, 1], [1, 2], [0, 2]];
  for (const axes of axesList) {
    for (const keepdim of [false, true]) {
      test(`sum / mean over ${JSON.stringify(axes) ?? 'all'} of [4,6,5], keepdim ${keepdim}`, async () => {
        await expectClose('sum', SUM, (r) => {
          const x = normal(r, [4, 6, 5]);
          return [
            [ops.sum(up(x), axes, keepdim), ref.sum(x, axes, keepdim)],
            [ops.mean(up(x), axes, keepdim), ref.mean(x, axes, keepdim), 'mean'],
            // the same on a permuted (non-contiguous) view
            [ops.sum(ops.permute(up(x), [1, 2, 0]), axes, keepdim), ref.sum(ref.permute(x, [1, 2, 0]), axes, keepdim)],
          ];
        });
      });
    }
  }

  test('group schedule: long rows (R >= 256) and few of them, with and without an inner stride', async () => {
    await expectClose('sum', SUM, (r) => {
      const a = normal(r, [3, 300]);
      const b = normal(r, [2, 257, 3]);
      const c = normal(r, [5, 512]);
      const d = normal(r, [100, 300]);
      const e = normal(r, [1100, 260]);
      return [
        [ops.sum(up(a), 1), ref.sum(a, 1)],
        [ops.sum(up(b), 1, true), ref.sum(b, 1, true)],
        [ops.mean(up(c), -1), ref.mean(c, -1), 'mean'],
        [ops.sum(up(d), 1), ref.sum(d, 1)], // 100 long rows: still the group schedule
        [ops.sum(up(e), 1), ref.sum(e, 1)], // 1100 rows of 260: the thread schedule with long rows
        [ops.sum(ops.slice(up(c), 0, 1, 4), 1), ref.sum(ref.slice(c, 0, 1, 4), 1)],
      ];
    });
  });

  test('two-pass split path: full sums over > 20000 elements', async () => {
    await expectClose('sum(big)', BIG_SUM, (r) => {
      const a = normal(r, [25000]);
      const b = normal(r, [5, 70, 71]);
      const c = normal(r, [2, 150, 120]);
      return [
        [ops.sum(up(a)), ref.sum(a)],
        [ops.sum(up(b)), ref.sum(b)],
        [ops.sum(up(c), [1, 2]), ref.sum(c, [1, 2])],
        [ops.mean(up(c), [1, 2], true), ref.mean(c, [1, 2], true), 'mean(big)'],
      ];
    });
  });

  for (const axis of [0, 1, 2, -1]) {
    test(`max / argmax along ${axis} of [4,6,5] with ties (first index wins)`, async () => {
      await expectClose('max', EXACT, (r) => {
        const x = ref.nd([4, 6, 5], Array.from({ length: 120 }, () => Math.floor(r() * 5)));
        const m = ops.maxWithIndices(up(x), axis, true);
        return [
          [m.values, ref.max(x, axis, true)],
          [m.indices, ref.argmax(x, axis, true), 'argmax'],
          [ops.max(up(x), axis), ref.max(x, axis)],
          [ops.argmax(ops.permute(up(x), [2, 0, 1]), axis), ref.argmax(ref.permute(x, [2, 0, 1]), axis), 'argmax'],
        ];
      });
    });
  }

  test('max / argmax in the group schedule (rows of 300 and 1000) with ties', async () => {
    await expectClose('max', EXACT, (r) => {
      const a = ref.nd([3, 300], Array.from({ length: 900 }, () => Math.floor(r() * 50)));
      const b = normal(r, [2, 1000, 2]);
      return [
        [ops.max(up(a), 1), ref.max(a, 1)],
        [ops.argmax(up(a), 1), ref.argmax(a, 1), 'argmax'],
        [ops.max(up(b), 1, true), ref.max(b, 1, true)],
        [ops.argmax(up(b), 1), ref.argmax(b, 1), 'argmax'],
      ];
    });
  });

  for (const axis of [0, 1, 2, -1]) {
    test(`softmax / logSoftmax / logsumexp along ${axis} of [4,6,5]`, async () => {
      await expectClose('softmax', SUM, (r) => {
        const x = ref.scale(normal(r, [4, 6, 5]), 3);
        return [
          [ops.softmax(up(x), axis), ref.softmax(x, axis)],
          [ops.logSoftmax(up(x), axis), ref.logSoftmax(x, axis), 'logSoftmax'],
          [ops.logsumexp(up(x), axis), ref.logsumexp(x, axis), 'logsumexp'],
          [ops.softmax(ops.permute(up(x), [2, 1, 0]), axis), ref.softmax(ref.permute(x, [2, 1, 0]), axis)],
        ];
      });
    });
  }

  test('softmax-like ops over an axis of 300 (group schedule), large logits', async () => {
    await expectClose('softmax(300)', SUM, (r) => {
      const a = ref.scale(normal(r, [4, 300]), 20);
      const b = ref.scale(normal(r, [2, 300, 3]), 20);
      return [
        [ops.softmax(up(a), 1), ref.softmax(a, 1)],
        [ops.logSoftmax(up(a), 1), ref.logSoftmax(a, 1), 'logSoftmax(300)'],
        [ops.softmax(up(b), 1), ref.softmax(b, 1)],
        [ops.logSoftmax(up(b), 1), ref.logSoftmax(b, 1), 'logSoftmax(300)'],
        [ops.logsumexp(up(a), 1), ref.logsumexp(a, 1), 'logsumexp(300)'],
        [ops.logsumexp(up(b), [1, 2], true), ref.logsumexp(b, [1, 2], true), 'logsumexp(300)'],
      ];
    });
  });

  test('logsumexp over several axes, non-adjacent axes (permute-copy path)', async () => {
    await expectClose('logsumexp', SUM, (r) => {
      const x = ref.scale(normal(r, [3, 4, 5, 2]), 4);
      return [
        [ops.logsumexp(up(x), [0, 2]), ref.logsumexp(x, [0, 2])],
        [ops.logsumexp(up(x), [1, 3], true), ref.logsumexp(x, [1, 3], true)],
        [ops.logsumexp(up(x), [0, 1, 2, 3]), ref.logsumexp(x, [0, 1, 2, 3])],
      ];
    });
  });
});

// ---- matmul --------------------------------------------------------------------------------------------------

describe('matmul', () => {
  const cases: [string, number[], number[]][] = [
    ['37x129 · 129x41 (M, N not multiples of 4)', [37, 129], [129, 41]],
    ['K = 1000', [3, 1000], [1000, 5]],
    ['1x64 · 64x1', [1, 64], [64, 1]],
    ['batched with broadcast [2,1,5,7] · [3,7,6]', [2, 1, 5, 7], [3, 7, 6]],
    ['5 batch dims [2,1,3,4,5] · [1,2,1,5,3]', [2, 1, 3, 4, 5], [1, 2, 1, 5, 3]],
    ['65x66 · 66x67', [65, 66], [66, 67]],
  ];
  for (const [name, sa, sb] of cases) {
    test(name, async () => {
      await expectClose('matmul', MATMUL, (r) => {
        const a = normal(r, sa);
        const b = normal(r, sb);
        return [[ops.matmul(up(a), up(b)), ref.matmul(a, b)]];
      });
    });
  }

  test('non-contiguous operands: transposed and sliced views', async () => {
    await expectClose('matmul', MATMUL, (r) => {
      const at = normal(r, [129, 37]);
      const b = normal(r, [140, 41]);
      const bs = ref.slice(b, 0, 5, 134); // offset view
      const c = normal(r, [3, 9, 4]);
      const x = normal(r, [3, 2, 4, 5]);
      const y = normal(r, [3, 2, 5, 6]);
      const batchFirst = (t: Tensor): Tensor => ops.permute(t, [1, 0, 2, 3]);
      return [
        [ops.matmul(batchFirst(up(x)), batchFirst(up(y))), ref.matmul(ref.permute(x, [1, 0, 2, 3]), ref.permute(y, [1, 0, 2, 3]))],
        [ops.matmul(ops.transpose(up(at), 0, 1), ops.slice(up(b), 0, 5, 134)), ref.matmul(ref.transpose(at, 0, 1), bs)],
        [ops.matmul(up(c), ops.transpose(up(c), -1, -2)), ref.matmul(c, ref.transpose(c, -1, -2))],
        [
          ops.matmul(ops.expand(ops.slice(up(c), 0, 0, 1), [4, 9, 4]), ops.transpose(ops.slice(up(c), 0, 1, 2), 1, 2)),
          ref.matmul(ref.expand(ref.slice(c, 0, 0, 1), [4, 9, 4]), ref.transpose(ref.slice(c, 0, 1, 2), 1, 2)),
        ],
      ];
    });
  });
});

// ---- conv2d: test/engine/conv2d.test.ts ----------------------------------------------------------------------

// ---- batch norm ----------------------------------------------------------------------------------------------

describe('batchNorm2d', () => {
  for (const shape of [[2, 8, 7, 9], [4, 32, 10, 10], [1, 3, 5, 1]]) {
    test(`training on [${shape}]: output and running statistics (momentum 0.03, unbiased variance)`, async () => {
      await expectClose('batchNorm2d', NORM, (r) => {
        const C = shape[1];
        const x = ref.scale(normal(r, shape), 2); // mean ~0, std ~2, then shifted below
        const xs = ref.binary('add', x, ref.nd([1, C, 1, 1], uniform(r, [C], -1, 1).data));
        const w = uniform(r, [C], 0.5, 1.5);
        const b = normal(r, [C]);
        const rm = normal(r, [C]);
        const rv = uniform(r, [C], 0.5, 2);
        const rmT = up(rm);
        const rvT = up(rv);
        const y = ops.batchNorm2d(up(xs), up(w), up(b), rmT, rvT, { training: true, momentum: 0.03, eps: 1e-3 });
        const st = ref.channelStats(xs);
        const upd = (old: NdArray, batch: NdArray): NdArray => ref.binary('add', ref.scale(old, 0.97), ref.scale(batch, 0.03));
        return [
          [y, ref.batchNorm2d(xs, w, b, { training: true, eps: 1e-3 })],
          [rmT, upd(rm, st.mean), 'batchNorm2d(running stats)'],
          [rvT, upd(rv, st.varUnbiased), 'batchNorm2d(running stats)'],
        ];
      });
    });
  }

  // The one-pass statistics must stay as accurate as two passes where Σx² − (Σx)²/M would cancel: a mean 600×
  // the standard deviation over 12,800 values per channel (the naive formula loses ~2 % of the variance here).
  test('batch statistics of a channel far from zero over many values (momentum 1: running stats = batch stats)', async () => {
    await expectClose('batchNorm2d', NORM, (r) => {
      const shape = [8, 3, 40, 40];
      const x = ref.binary('add', ref.scale(normal(r, shape), 0.5), ref.nd([1, 3, 1, 1], [300, -120, 0.25]));
      const rm = up(ref.nd([3], [0, 0, 0]));
      const rv = up(ref.nd([3], [1, 1, 1]));
      const y = ops.batchNorm2d(up(x), null, null, rm, rv, { training: true, momentum: 1, eps: 1e-3 });
      const st = ref.channelStats(x);
      return [
        [y, ref.batchNorm2d(x, null, null, { training: true, eps: 1e-3 })],
        [rm, st.mean, 'batchNorm2d(batch mean)'],
        [rv, st.varUnbiased, 'batchNorm2d(batch variance)'],
      ];
    });
  });

  test('eval mode with running statistics; no affine parameters; permuted input', async () => {
    await expectClose('batchNorm2d', NORM, (r) => {
      const x = normal(r, [2, 6, 5, 7]);
      const w = uniform(r, [6], 0.5, 1.5);
      const b = normal(r, [6]);
      const rm = normal(r, [6]);
      const rv = uniform(r, [6], 0.5, 2);
      const nhwc = normal(r, [2, 5, 7, 6]);
      const eval_ = { training: false, runningMean: rm, runningVar: rv };
      return [
        [ops.batchNorm2d(up(x), up(w), up(b), up(rm), up(rv), { training: false }), ref.batchNorm2d(x, w, b, eval_), 'batchNorm2d(eval)'],
        [ops.batchNorm2d(up(x), null, null, null, null, { training: true }), ref.batchNorm2d(x, null, null, { training: true })],
        [
          ops.batchNorm2d(ops.permute(up(nhwc), [0, 3, 1, 2]), up(w), up(b), null, null, { training: true, eps: 1e-3 }),
          ref.batchNorm2d(ref.permute(nhwc, [0, 3, 1, 2]), w, b, { training: true, eps: 1e-3 }),
        ],
      ];
    });
  });
});

// ---- pooling and upsampling ----------------------------------------------------------------------------------

describe('pooling', () => {
  const configs: [string, number[], ref.PoolOptions][] = [
    ['k3 s2 p1 on 13x11', [2, 3, 13, 11], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }],
    ['k2 s2 on odd 9x7', [1, 4, 9, 7], { kernel: [2, 2] }],
    ['k(3,2) s(1,2) p(1,0)', [2, 2, 8, 9], { kernel: [3, 2], stride: [1, 2], padding: [1, 0] }],
    ['k5 s1 p2 (SPPF)', [1, 8, 10, 10], { kernel: [5, 5], stride: [1, 1], padding: [2, 2] }],
    ['k4 s3 p2 (windows past the padding)', [1, 3, 11, 10], { kernel: [4, 4], stride: [3, 3], padding: [2, 2] }],
  ];
  for (const [name, shape, o] of configs) {
    test(`maxPool2d / avgPool2d ${name}`, async () => {
      await expectClose('maxPool2d', EXACT, (r) => {
        const x = normal(r, shape);
        return [[ops.maxPool2d(up(x), o), ref.maxPool2d(x, o)]];
      });
      await expectClose('avgPool2d', POINTWISE, (r) => {
        const x = normal(r, shape);
        return [
          [ops.avgPool2d(up(x), o), ref.avgPool2d(x, o)],
          [ops.avgPool2d(up(x), { ...o, countIncludePad: false }), ref.avgPool2d(x, { ...o, countIncludePad: false }), 'avgPool2d(no pad count)'],
        ];
      });
    });
  }

  test('pooling of offset and permuted views', async () => {
    await expectClose('maxPool2d', EXACT, (r) => {
      const x = distinct(r, [3, 2, 7, 6]);
      const o: ref.PoolOptions = { kernel: [3, 3], stride: [2, 2], padding: [1, 1] };
      return [
        [ops.maxPool2d(ops.slice(up(x), 0, 1, 3), o), ref.maxPool2d(ref.slice(x, 0, 1, 3), o)],
        [ops.maxPool2d(ops.permute(up(x), [1, 0, 3, 2]), o), ref.maxPool2d(ref.permute(x, [1, 0, 3, 2]), o)],
      ];
    });
    await expectClose('avgPool2d', POINTWISE, (r) => {
      const x = normal(r, [3, 2, 7, 6]);
      const o: ref.PoolOptions = { kernel: [3, 3], stride: [2, 2], padding: [1, 1] };
      return [
        [ops.avgPool2d(ops.slice(up(x), 0, 1, 3), o), ref.avgPool2d(ref.slice(x, 0, 1, 3), o)],
        [ops.avgPool2d(ops.permute(up(x), [1, 0, 3, 2]), o), ref.avgPool2d(ref.permute(x, [1, 0, 3, 2]), o)],
      ];
    });
  });
});

describe('upsampleNearest', () => {
  const configs: [string, number[], { scale: number | [number, number] } | { size: [number, number] }][] = [
    ['scale 2', [2, 3, 5, 7], { scale: 2 }],
    ['scale (2, 3)', [1, 2, 4, 5], { scale: [2, 3] }],
    ['scale 1.5', [1, 2, 5, 7], { scale: 1.5 }],
    ['size 13x17 from 5x7', [1, 2, 5, 7], { size: [13, 17] }],
    ['size 3x4 from 7x9 (downsampling)', [1, 2, 7, 9], { size: [3, 4] }],
    ['size 10x14 from 5x7 (exact 2x)', [2, 1, 5, 7], { size: [10, 14] }],
    ['size 7x11 from 3x10', [1, 1, 3, 10], { size: [7, 11] }],
  ];
  for (const [name, shape, o] of configs) {
    test(name, async () => {
      await expectClose('upsampleNearest', EXACT, (r) => {
        const x = normal(r, shape);
        return [
          [ops.upsampleNearest(up(x), o), ref.upsampleNearest(x, o)],
          [ops.upsampleNearest(ops.permute(up(x), [1, 0, 2, 3]), o), ref.upsampleNearest(ref.permute(x, [1, 0, 2, 3]), o)],
        ];
      });
    });
  }
});

// ---- layout --------------------------------------------------------------------------------------------------

describe('layout', () => {
  test('concat along every axis, with view inputs, as vec4s and scalars', async () => {
    await expectClose('concat', EXACT, (r) => {
      const a = normal(r, [2, 3, 4]);
      const b = normal(r, [2, 5, 4]);
      const c = normal(r, [4, 2, 3]); // permuted to [2, 3, 4]
      const cp = ref.permute(c, [1, 2, 0]);
      const f4 = normal(r, [3, 4]);
      const flat = normal(r, [13]);
      return [
        [ops.concat([up(a), up(b)], 1), ref.concat([a, b], 1)],
        [ops.concat([up(a), ops.permute(up(c), [1, 2, 0]), up(a)], 0), ref.concat([a, cp, a], 0)],
        [ops.concat([up(a), ops.permute(up(c), [1, 2, 0])], -1), ref.concat([a, cp], -1)],
        [ops.concat([ops.slice(up(b), 1, 1, 4), up(a)], 1), ref.concat([ref.slice(b, 1, 1, 4), a], 1)],
        // rows of 4 (moved as vec4s), one input at an odd offset (moved as scalars)
        [ops.concat([up(f4), up(f4)], 0), ref.concat([f4, f4], 0)],
        [ops.concat([ops.reshape(ops.slice(up(flat), 0, 1, 13), [3, 4]), up(f4)], 0), ref.concat([ref.reshape(ref.slice(flat, 0, 1, 13), [3, 4]), f4], 0)],
      ];
    });
  });

  test('slice / split / chunk views read back, reshape / permute / transpose / expand', async () => {
    await expectClose('layout', EXACT, (r) => {
      const x = normal(r, [3, 7, 5]);
      const t = up(x);
      const parts = ops.split(t, [2, 4, 1], 1);
      const chunks = ops.chunk(t, 2, 2);
      return [
        [ops.slice(t, 1, 2, 6), ref.slice(x, 1, 2, 6), 'slice'],
        [ops.slice(t, -1, 4, 5), ref.slice(x, -1, 4, 5), 'slice'],
        ...parts.map((p, i): Pair => [p, ref.slice(x, 1, [0, 2, 6][i], [2, 6, 7][i]), 'split']),
        ...chunks.map((p, i): Pair => [p, ref.slice(x, 2, [0, 3][i], [3, 5][i]), 'chunk']),
        [ops.permute(t, [2, 0, 1]), ref.permute(x, [2, 0, 1]), 'permute'],
        [ops.transpose(t, 0, 2), ref.transpose(x, 0, 2), 'transpose'],
        [ops.reshape(t, [7, -1]), ref.reshape(x, [7, -1]), 'reshape'],
        [ops.reshape(ops.permute(t, [1, 0, 2]), [7, 15]), ref.reshape(ref.permute(x, [1, 0, 2]), [7, 15]), 'reshape'],
        [ops.contiguous(ops.permute(t, [2, 1, 0])), ref.permute(x, [2, 1, 0]), 'contiguous'],
        [ops.expand(ops.slice(t, 0, 1, 2), [4, 7, 5]), ref.expand(ref.slice(x, 0, 1, 2), [4, 7, 5]), 'expand'],
        [ops.expand(up(ref.nd([5], [1, 2, 3, 4, 5])), [2, 3, 5]), ref.expand(ref.nd([5], [1, 2, 3, 4, 5]), [2, 3, 5]), 'expand'],
      ];
    });
  });
});

afterAll(() => {
  const rows = [...worst.entries()].map(([op, e]) => `${op}: ${e.toExponential(2)}`);
  console.log(`max abs error vs float64 reference per op: ${rows.join(', ')}`);
});
