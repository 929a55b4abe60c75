// Headless Chromium with WebGPU for the browser tests: Debian's /usr/bin/chromium (never a downloaded browser)
// driven by playwright-core, with a fresh profile. Chromium's WebGPU runs on SwiftShader (Vulkan on the CPU): no
// shader-f16, 256 invocations per workgroup, 10 storage buffers per stage.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** The browser binary: CHROMIUM_PATH overrides Debian's. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
  // WebGPU on SwiftShader when there is no GPU (Chromium otherwise refuses the software adapter)
  '--enable-unsafe-swiftshader',
  // Compositing through SwiftShader's Vulkan too: without these three, a WebGPU canvas cannot be presented in
  // headless Chromium 156 on a machine without a GPU (configure() + a frame destroy the device, or toDataURL and
  // screenshots read an invalid texture). Compute alone works without them.
  '--use-angle=swiftshader',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
];

export const INSTALL_HELP =
  "install Debian's chromium (as root: 'npm run setup', or 'apt-get install -y chromium'), or set CHROMIUM_PATH to a Chromium/Chrome binary";

/** Why the browser tests cannot run here, or null when the binary is present. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM}: ${INSTALL_HELP}`;
}

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'gelan-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 800, height: 600 },
      timeout: 60_000,
    });
    return {
      context,
      async close() {
        await context.close().catch(() => undefined);
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`could not start ${CHROMIUM}: ${(e as Error).message.split('\n')[0]}`);
  }
}
