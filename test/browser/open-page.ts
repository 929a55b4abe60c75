// Opening a test page in headless Chromium: console errors, page errors and 404s are collected, and a page that
// never gets ready fails with what it reported instead of a bare timeout.
import type { Page } from 'playwright-core';
import type { StaticServer } from '../../scripts/serve.mjs';
import type { Browser } from './chromium';

export interface OpenOptions {
  /** Lines of console errors/warnings of every page opened with the same array (printed by the test's afterAll). */
  readonly logs?: string[];
  readonly timeoutMs?: number;
  /** Runs before the page's own scripts (page.addInitScript). */
  readonly init?: () => void;
}

/** Open `path` and wait until the page expression `ready` is true. */
export async function openPage(browser: Browser, server: StaticServer, path: string, ready: string, o: OpenOptions = {}): Promise<Page> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      const line = `${path} console.${m.type()}: ${m.text()}`;
      errors.push(line);
      o.logs?.push(line);
    }
  });
  if (o.init) await page.addInitScript(o.init);
  await page.goto(server.origin + path);
  try {
    await page.waitForFunction(ready, undefined, { timeout: o.timeoutMs ?? 60_000 });
  } catch {
    const why = [...errors, ...server.missing.map((m) => `404 ${m}`)];
    await page.close();
    throw new Error(`${path} did not get ready (${ready}): ${why.join('; ') || 'nothing reported'}`);
  }
  return page;
}
