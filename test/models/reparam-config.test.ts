// The single-head config derived from a dual-head graph (models/reparam-config.ts) against the official
// gelan-X yamls: every row (module, arguments, absolute inputs, widths, strides) must be the official one.
import { describe, expect, test } from 'vitest';
import { builtinConfig, gelanConfigFor, planModel } from '../../models';

const shape = (cfg: ReturnType<typeof builtinConfig>) =>
  planModel(cfg).rows.map((r) => ({ from: r.from, n: r.n, module: r.module, args: r.args, channels: r.channels, stride: r.stride }));

describe('gelanConfigFor', () => {
  for (const size of ['t', 's', 'm', 'c', 'e']) {
    test(`yolov9-${size} → the official gelan-${size} graph`, () => {
      expect(shape(gelanConfigFor(builtinConfig(`yolov9-${size}`)))).toEqual(shape(builtinConfig(`gelan-${size}`)));
    });
  }
  test('keeps a class count other than the yaml\'s', () => {
    const g = gelanConfigFor(builtinConfig('yolov9-t', { nc: 3 }));
    expect(g.nc).toBe(3);
    expect(shape(g)).toEqual(shape(builtinConfig('gelan-t', { nc: 3 })));
  });
  test('a single-head config has no auxiliary branch to remove', () => {
    expect(() => gelanConfigFor(builtinConfig('gelan-t'))).toThrow(/builtin:gelan-t: its last layer is DDetect, not DualDDetect/);
  });
});
