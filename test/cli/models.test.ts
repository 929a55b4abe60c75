// The model commands of the `gelan` CLI, end to end on the built CLI (dist/): info, convert, predict, reparam,
// and their errors. Outputs are checked against the official fixtures, not against our own runs.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ROOT, builtCli } from './built-cli';
import { readSafetensors } from '../../models/io/safetensors';
import { readNpy, writeNpy } from '../../models/io/npy';
import { toFloat32 } from '../../models/io/dtypes';
import { closeness } from '../helpers';

const FX = (f: string): string => join(ROOT, 'test/fixtures/yolov9', f);
const cli = builtCli('gelan-cli-');
const { gelan, gelanWith } = cli;

const fixture = (f: string) => readSafetensors(new Uint8Array(readFileSync(FX(f))), f).tensors;

function writeInput(name: string, fx: ReturnType<typeof fixture>): string {
  const p = join(cli.dir, name);
  writeFileSync(p, writeNpy({ dtype: 'F32', shape: [1, 3, 320, 320], data: toFloat32(fx.get('input')!) }));
  return p;
}

/** The flags whose help entry (description and its wrapped lines) says "(required)". */
function requiredInHelp(help: string): string[] {
  const entries = help.split('\n').reduce<string[]>((acc, l) => {
    if (/^ {2}-/.test(l)) acc.push(l);
    else if (acc.length && /^ {4,}\S/.test(l)) acc[acc.length - 1] += ` ${l.trim()}`;
    return acc;
  }, []);
  return entries.filter((e) => e.includes('(required)')).map((e) => /--[\w-]+/.exec(e)![0]).sort();
}

const DAWN_NOTE = /artificially reduced .* to fit dynamic offset allocation limit/g;

describe('gelan CLI: surface', () => {
  test('--version prints the package version', () => {
    const r = gelan('--version');
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  test('--help of every command marks its required options', () => {
    const want: Record<string, string[]> = {
      info: ['--cfg'],
      reparam: ['--out', '--weights'],
      predict: ['--input', '--out', '--weights'],
      val: ['--weights'],
      detect: ['--source', '--weights'],
      train: [],
      demo: [],
      bench: [],
      selfcheck: [],
    };
    for (const [cmd, flags] of Object.entries(want)) {
      const h = gelan(cmd, '--help');
      expect(h.code, h.err).toBe(0);
      expect(requiredInHelp(h.out), cmd).toEqual(flags);
    }
    const miss = gelan('reparam', '--cfg', 'gelan-t', '--out', 'x.safetensors');
    expect(miss.code).toBe(1);
    expect(miss.err).toMatch(/required option '--weights <file>' not specified/);
  });

  test("Dawn's limit notes never reach the terminal of a command that opens a device", () => {
    const r = gelan('info', '--cfg', 'gelan-t', '--imgsz', '64');
    expect(r.code, r.err).toBe(0);
    expect(`${r.out}${r.err}`).not.toMatch(DAWN_NOTE);
    // the same command without the relay: on lavapipe Dawn prints them (other adapters may print none)
    const raw = gelanWith({ GELAN_CLI_RELAYED: '1' }, 'info', '--cfg', 'gelan-t', '--imgsz', '64');
    expect(raw.code, raw.err).toBe(0);
    console.log(`without the relay this adapter printed ${(raw.err.match(DAWN_NOTE) ?? []).length} limit notes`);
    expect(raw.out).toBe(r.out);
  });

  test.skipIf(process.platform !== 'linux')('a signal to gelan stops the command process it relays (no orphan left running)', async () => {
    const p = spawn('node', [join(ROOT, 'dist/cli/gelan.js'), 'train', '--cfg', 'gelan-shapes', '--imgsz', '64', '--epochs', '50', '--project', join(cli.dir, 'sig')], { cwd: cli.dir });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 600 && !out.includes('parameters'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('parameters');
    const children = readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    expect(children.length).toBe(1);
    const exited = new Promise<NodeJS.Signals | null>((r) => p.on('exit', (_code, sig) => r(sig)));
    p.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(children[0]); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(children[0])).toBe(false);
  }, 120_000);
});

describe('gelan CLI: models', () => {
  test('info prints the layer table and the exact parameter count', () => {
    const r = gelan('info', '--cfg', 'yolov9-c', '--imgsz', '640');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^\s+38\s+\[31,34,37,16,19,22\]\s+1\s+21725312\s+DualDDetect/m);
    expect(r.out).toContain('builtin:yolov9-c: 39 layers, 51,182,080 parameters (50,880,768 fused), 237.6 GFLOPs at 640x640');
  });

  test("info takes a user's YAML file, and a bad one fails naming file, line and layer", () => {
    const good = join(cli.dir, 'mine.yaml');
    writeFileSync(good, readFileSync(join(ROOT, 'models/configs/gelan-t.yaml'), 'utf8').replace('nc: 80', 'nc: 3'));
    const r = gelan('info', '--cfg', good, '--imgsz', '320');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/DDetect\s+\[3,\[64,96,128\]\]\s+\(b, 7, anchors\)/);
    const bad = join(cli.dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(good, 'utf8').replace('[-1, 1, AConv, [64]]', '[-1, 1, AConvX, [64]]'));
    const e = gelan('info', '--cfg', bad);
    expect(e.code).toBe(1);
    expect(e.out).toBe('');
    expect(e.err).toMatch(new RegExp(`gelan: ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+: layer 3 \\(AConvX\\): unknown module 'AConvX'`));
  });

  test('convert + predict reproduce the official gelan-t output; the .pt works directly too', () => {
    const fx = fixture('gelan-t-320.safetensors');
    const x = writeInput('x.npy', fx);
    const st = join(cli.dir, 'gelan-t.safetensors');
    const c = gelan('convert', FX('gelan-t.pt'), st);
    expect(c.code, c.err).toBe(0);
    expect(c.out).toMatch(/: \d+ tensors, [\d,]+ values \(float32\), config 80 classes/);
    // info reads the config a weights file carries (the .pt's model yaml, kept in the safetensors metadata)
    for (const w of [st, FX('gelan-t.pt')]) {
      const i = gelan('info', '--cfg', w, '--imgsz', '320');
      expect(i.code, i.err).toBe(0);
      expect(i.out).toContain(`${w} (embedded model yaml): 23 layers, 2,442,640 parameters`);
    }
    for (const w of [st, FX('gelan-t.pt')]) {
      const out = join(cli.dir, 'y.npy');
      const p = gelan('predict', '--weights', w, '--input', x, '--out', out);
      expect(p.code, p.err).toBe(0);
      const y = readNpy(new Uint8Array(readFileSync(out)), out);
      expect(y.shape).toEqual([1, 84, 2100]);
      // float32 engine vs float64 official; boxes in pixels
      const cl = closeness(toFloat32(y), toFloat32(fx.get('f64.eval.y')!), 2e-3, 1e-4);
      expect(cl.ok, cl.worst).toBe(true);
    }
  });

  test('reparam removes the auxiliary branch; predict of the result equals the official main branch', () => {
    const fx = fixture('yolov9-t-320.safetensors');
    const x = writeInput('x2.npy', fx);
    const out = join(cli.dir, 'gelan-from-yolov9.safetensors');
    const r = gelan('reparam', '--weights', FX('yolov9-t.pt'), '--cfg', 'gelan-t', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/3,717,680 params\) -> .* \(builtin:gelan-t, 2,442,640 params\); main-branch output max relative difference/);
    // predict on the dual model itself gives the main branch, as official inference does
    const yd = join(cli.dir, 'yd.npy');
    const pd = gelan('predict', '--weights', FX('yolov9-t.pt'), '--input', x, '--out', yd);
    expect(pd.code, pd.err).toBe(0);
    expect(pd.out).toContain('(main branch)');
    const cd = closeness(toFloat32(readNpy(new Uint8Array(readFileSync(yd)), yd)), toFloat32(fx.get('f64.eval.y_main')!), 2e-3, 1e-4);
    expect(cd.ok, cd.worst).toBe(true);
    const y = join(cli.dir, 'y2.npy');
    const p = gelan('predict', '--weights', out, '--input', x, '--out', y, '--fuse');
    expect(p.code, p.err).toBe(0);
    const cl = closeness(toFloat32(readNpy(new Uint8Array(readFileSync(y)), y)), toFloat32(fx.get('f64.eval.y_main')!), 2e-3, 1e-4);
    expect(cl.ok, cl.worst).toBe(true);
    // yolov9-t -> gelan-s does not correspond
    const bad = gelan('reparam', '--weights', FX('yolov9-t.pt'), '--cfg', 'gelan-s', '--out', join(cli.dir, 'no.safetensors'));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/cannot remove the auxiliary branch of .*yolov9-t\.pt \(embedded model yaml\) into builtin:gelan-s: layer 0 \(Conv \[3,32,3,2\], from -1\) has no counterpart/);
  });

  test('predict with weights of another config, or a bad input, fails clearly', () => {
    const x = join(cli.dir, 'small.npy');
    writeFileSync(x, writeNpy({ dtype: 'F32', shape: [1, 3, 64, 48], data: new Float32Array(3 * 64 * 48) }));
    const ok = join(cli.dir, 'ok.npy');
    writeFileSync(ok, writeNpy({ dtype: 'F32', shape: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) }));
    const a = gelan('predict', '--weights', FX('gelan-t.pt'), '--cfg', 'gelan-s', '--input', ok, '--out', join(cli.dir, 'o.npy'));
    expect(a.code).toBe(1);
    expect(a.err).toMatch(/gelan-t\.pt: model\.0\.conv\.weight has shape \[16, 3, 3, 3\] but builtin:gelan-s expects \[32, 3, 3, 3\]/);
    const b = gelan('predict', '--weights', FX('gelan-t.pt'), '--input', x, '--out', join(cli.dir, 'o.npy'));
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/--input .*small\.npy must be \(batch, 3, H, W\) with H and W multiples of 32, got \[1, 3, 64, 48\]/);
    const c = gelan('predict', '--weights', join(cli.dir, 'missing.pt'), '--input', x, '--out', join(cli.dir, 'o.npy'));
    expect(c.err).toMatch(/--weights .*missing\.pt: no such file/);
  });

  test('bad values are named by their option and refused before any work (nothing on stdout)', () => {
    const cases: [string[], RegExp][] = [
      [['info', '--cfg', 'gelan-t', '--imgsz', '100'], /^gelan: --imgsz must be a positive multiple of 32, got 100$/m],
      [['info', '--cfg', 'gelan-t', '--imgsz', '0'], /^gelan: --imgsz must be a positive integer, got 0$/m],
      [['info', '--cfg', 'gelan-t', '--nc', '-3'], /^gelan: --nc must be a positive integer, got -3$/m],
      [['info', '--cfg', join(cli.dir, 'none.safetensors')], /--cfg .*none\.safetensors: not a built-in config .* and no such file/],
      [['reparam', '--weights', FX('yolov9-t.pt'), '--cfg', 'gelan-zz', '--out', join(cli.dir, 'r.safetensors')], /--cfg gelan-zz: not a built-in config/],
      [['reparam', '--weights', FX('yolov9-t.pt'), '--cfg', 'gelan-t', '--out', join(cli.dir, 'no/r.safetensors')], /^gelan: --out .*no\/r\.safetensors: no such folder /m],
      [['convert', FX('gelan-t.pt'), join(cli.dir, 'no/g.safetensors')], /^gelan: <out\.safetensors> .*no\/g\.safetensors: no such folder /m],
      [['bench', '--quick', '--json', join(cli.dir, 'no/b.json')], /^gelan: --json .*no\/b\.json: no such folder /m],
    ];
    for (const [args, msg] of cases) {
      const r = gelan(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toMatch(msg);
      expect(r.out, args.join(' ')).toBe('');
    }
  });
});
