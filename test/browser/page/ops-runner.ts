// In-page runner of the op fixtures (test/fixtures/ops/*.json): the same cases and tolerances as
// test/engine/fixture-ops.test.ts, run on the browser library bundle. Every engine import here and in
// test/shared/ resolves to /dist/browser/gelan-webgpu.js (test/browser/pages.ts), so this exercises the bundle
// that `npm run build` ships, on navigator.gpu.
import { type Device, createDevice } from '../../../engine';
import type { Fixture } from '../../shared/fixtures';
import { pageExpect } from '../../shared/expect';
import { TOL, runOpCase } from '../../shared/op-cases';
import { type CaseResult, type PageEnv, describeEnv, runCase } from './common';

export interface OpsApi {
  env(): Promise<PageEnv>;
  /** Run case `index` of fixture `file` (e.g. 'conv2d.json'). */
  run(file: string, index: number): Promise<CaseResult>;
  /** Largest absolute error per op so far. */
  worst(): Record<string, number>;
  dispose(): void;
}

let device: Promise<Device> | null = null;
const dev = (): Promise<Device> => (device ??= createDevice());
const fixtures = new Map<string, Promise<Fixture>>();
const fixture = (file: string): Promise<Fixture> => {
  let f = fixtures.get(file);
  if (!f) {
    f = fetch(`/test/fixtures/ops/${file}`).then((r) => {
      if (!r.ok) throw new Error(`fixture ${file}: HTTP ${r.status}`);
      return r.json() as Promise<Fixture>;
    });
    fixtures.set(file, f);
  }
  return f;
};
const worst = new Map<string, number>();

const api: OpsApi = {
  env: async () => describeEnv(await dev()),
  async run(file, index) {
    const d = await dev();
    const c = (await fixture(file)).cases[index];
    const tol = TOL[file];
    if (!c || !tol) throw new Error(`no case ${file}#${index}`);
    return runCase(d.gpu, () => runOpCase(d, c, tol[0], tol[1], pageExpect, worst));
  },
  worst: () => Object.fromEntries(worst),
  dispose() {
    void device?.then((d) => d.dispose());
    device = null;
  },
};
window.gelanOps = api;
document.getElementById('status')!.textContent = 'ops runner ready';
