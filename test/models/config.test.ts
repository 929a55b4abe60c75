// The YAML model format: official files load unchanged, a user's own YAML (other nc, other widths) builds, and
// bad input names the file, the line and the layer.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { OFFICIAL_CONFIGS, auxRemovalMapping, builtinConfig, parseModelConfig, planModel, withClassCount } from '../../models';

const official = (name: string): string => readFileSync(fileURLToPath(new URL(`../../models/configs/${name}.yaml`, import.meta.url)), 'utf8');

describe('official configs', () => {
  test.each(Object.keys(OFFICIAL_CONFIGS))('%s is shipped unchanged and plans', (name) => {
    expect(OFFICIAL_CONFIGS[name]).toBe(official(name));
    const plan = planModel(builtinConfig(name));
    expect(plan.rows[plan.rows.length - 1].module).toMatch(/DDetect/);
  });

  test('channel bookkeeping: AConv 180 rounds up to 184 in gelan-m (the official make_divisible)', () => {
    const rows = planModel(builtinConfig('gelan-m')).rows;
    expect(rows.filter((r) => r.module === 'AConv').map((r) => r.channels)).toContain(184);
    expect(rows.find((r) => r.module === 'Concat' && r.channels === 544)).toBeDefined();
  });

  test('strides and PGI head inputs of yolov9-c', () => {
    const rows = planModel(builtinConfig('yolov9-c')).rows;
    const head = rows[rows.length - 1];
    expect(head.from).toEqual([31, 34, 37, 16, 19, 22]);
    expect((head.from as number[]).map((j) => rows[j].stride)).toEqual([8, 16, 32, 8, 16, 32]);
    expect(rows[23].channels).toEqual([256]); // CBLinear tuple
  });

  test('aux-branch mapping equals the official table for every size', () => {
    const expected: Record<string, (g: number) => number> = { t: (g) => g, s: (g) => g, m: (g) => g + 1, c: (g) => g + 1, e: (g) => (g < 29 ? g : g + 7) };
    for (const [s, f] of Object.entries(expected)) {
      const m = auxRemovalMapping(planModel(builtinConfig(`yolov9-${s}`)).rows, planModel(builtinConfig(`gelan-${s}`)).rows);
      for (const [g, d] of m.rows) expect(d, `${s}: gelan ${g}`).toBe(f(g));
      expect(m.head.dual).toBe(planModel(builtinConfig(`yolov9-${s}`)).rows.length - 1);
    }
  });

  test('another class count re-resolves every `nc` in the args', () => {
    const c = withClassCount(builtinConfig('yolov9-t'), 3);
    const head = planModel(c).rows.at(-1)!;
    expect(head.args[0]).toBe(3);
    expect(head.channels).toBe(7);
  });
});

const USER = `# my model
nc: 5
depth_multiple: 1.0
width_multiple: 0.5
backbone:
  [[-1, 1, Conv, [32, 3, 2]],
   [-1, 1, Conv, [64, 3, 2]],
   [-1, 1, RepNCSPELAN4, [64, 64, 32, 1]],
   [-1, 1, ADown, [128]],
   [-1, 1, RepNCSPELAN4, [128, 128, 64, 1]],
   [-1, 1, AConv, [256]],
   [-1, 1, SPPELAN, [256, 128]],
  ]
head:
  [[-1, 1, nn.Upsample, [None, 2, 'nearest']],
   [[-1, 4], 1, Concat, [1]],
   [-1, 1, RepNCSPELAN4, [128, 128, 64, 1]],
   [-1, 1, Conv, [128, 3, 2]],
   [[-1, 6], 1, Concat, [1]],
   [-1, 1, ELAN1, [128, 128, 64]],
   [[9, 12], 1, DDetect, [nc]],
  ]
`;

describe("a user's own YAML", () => {
  test('width_multiple scales the first arg and rounds to 8; nc from the file', () => {
    const rows = planModel(parseModelConfig(USER, 'my.yaml')).rows;
    expect(rows[0].channels).toBe(16);
    expect(rows[3].channels).toBe(64);
    expect(rows.at(-1)!.args).toEqual([5, [64, 64]]);
    expect(rows.at(-1)!.from).toEqual([9, 12]);
    expect((rows.at(-1)!.from as number[]).map((j) => rows[j].stride)).toEqual([8, 16]);
  });
});

describe('bad configs name the file, line and layer', () => {
  const bad = (edit: (s: string) => string): (() => unknown) => () => planModel(parseModelConfig(edit(USER), 'my.yaml'));
  test.each([
    ['unknown module', (s: string) => s.replace('ADown, [128]', 'Foo, [128]'), /^my\.yaml:9: layer 3 \(Foo\): unknown module 'Foo' \(supported: /],
    ['wrong arg count', (s: string) => s.replace('SPPELAN, [256, 128]', 'SPPELAN, [256]'), /^my\.yaml:12: layer 6 \(SPPELAN\): expected 2 args \[c2, c3\], got \[256\]/],
    ['from out of range', (s: string) => s.replace('[[-1, 4], 1, Concat', '[[-1, 40], 1, Concat'), /^my\.yaml:16: layer 8 \(Concat\): 'from' index 40 is out of range/],
    ['mismatched concat strides', (s: string) => s.replace('[[-1, 4], 1, Concat', '[[-1, 2], 1, Concat'), /^my\.yaml:16: layer 8 \(Concat\): inputs \[7,2\] have different strides \[8,4\]/],
    ['malformed row', (s: string) => s.replace('[-1, 1, Conv, [64, 3, 2]]', '[-1, Conv, [64, 3, 2]]'), /^my\.yaml:7: layer 1 \(backbone\): a row must be \[from, number, module, args\]/],
    ['invalid YAML', (s: string) => s.replace('nc: 5', 'nc: [5'), /^my\.yaml:\d+: invalid YAML/],
    ['missing head', (s: string) => s.replace(/head:[\s\S]*/, ''), /^my\.yaml: missing or invalid 'head' list/],
    ['bad nc', (s: string) => s.replace('nc: 5', 'nc: -1'), /^my\.yaml: 'nc' must be a positive integer/],
  ])('%s', (_n, edit, msg) => {
    expect(bad(edit)).toThrow(msg);
  });
});
