// In-page runner of the GELAN/YOLOv9 block fixtures (test/fixtures/yolov9/blocks/*.safetensors): the procedure
// of test/models/blocks.test.ts (test/shared/blocks.ts) in Chromium. The blocks are not public API, so this page
// bundles the engine and models from source with the browser build's settings (Node platform stubbed).
import { createDevice } from '../../../engine/create-device';
import type { Device } from '../../../engine/device';
import { runBlockFixture } from '../../shared/blocks';
import { pageExpect } from '../../shared/expect';
import { type CaseResult, type PageEnv, describeEnv, runCase } from './common';

export interface BlocksApi {
  env(): Promise<PageEnv>;
  /** Run one fixture file, e.g. 'repncspelan4_c5_1.safetensors'. */
  run(file: string): Promise<CaseResult>;
  dispose(): void;
}

let device: Promise<Device> | null = null;
const dev = (): Promise<Device> => (device ??= createDevice());

const api: BlocksApi = {
  env: async () => describeEnv(await dev()),
  async run(file) {
    const d = await dev();
    const r = await fetch(`/test/fixtures/yolov9/blocks/${file}`);
    if (!r.ok) throw new Error(`fixture ${file}: HTTP ${r.status}`);
    const bytes = new Uint8Array(await r.arrayBuffer());
    return runCase(d.gpu, () => runBlockFixture(d, bytes, file, pageExpect));
  },
  dispose() {
    void device?.then((d) => d.dispose());
    device = null;
  },
};
window.gelanBlocks = api;
document.getElementById('status')!.textContent = 'blocks runner ready';
