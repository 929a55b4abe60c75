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

/**
 * The demo page's progress: what changes while it trains, validates or detects (steps, losses, epochs,
 * prediction rounds, live frames, messages). Equal twice means nothing moved in between.
 */
const DEMO_PROGRESS = `(() => { const d = window.gelanDemo; return d ? JSON.stringify([d.state, d.steps, d.losses.length, d.epochs.length, d.predictionRounds, d.live?.frames ?? 0, d.errors.length, d.notes.length, d.fatal]) : 'no gelanDemo'; })()`;

/**
 * Wait until the page expression `done` is true, for at most `timeoutMs`, but fail as soon as the
 * demo page's progress has not moved for `stallMs`: a run that stopped (a lost device, a worker that died
 * silently) fails in minutes with its last state instead of holding the suite for the whole timeout.
 */
export async function waitProgressing(page: Page, done: string, o: { timeoutMs: number; stallMs?: number; what: string }): Promise<void> {
  const stallMs = o.stallMs ?? 300_000;
  const start = Date.now();
  let last = '';
  let moved = start;
  for (;;) {
    try {
      await page.waitForFunction(done, undefined, { timeout: 10_000, polling: 250 });
      return;
    } catch (e) {
      if (!(e instanceof Error && e.name === 'TimeoutError')) throw e;
    }
    const now = Date.now();
    const progress = String(await page.evaluate(DEMO_PROGRESS));
    if (progress !== last) [last, moved] = [progress, now];
    if (now - moved > stallMs) throw new Error(`${o.what}: no progress for ${Math.round((now - moved) / 1000)} s (state, steps, losses, epochs, prediction rounds, live frames, errors, notes, fatal: ${last})`);
    if (now - start > o.timeoutMs) throw new Error(`${o.what}: not done after ${Math.round((now - start) / 1000)} s (state, steps, losses, epochs, prediction rounds, live frames, errors, notes, fatal: ${last})`);
  }
}
