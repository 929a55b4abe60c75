// Browser entry of the consumer: bundled by esbuild through the package's `browser` export condition.
import { type ConvCheck, convCheck } from './conv-check.js';

declare global {
  interface Window {
    consumerResult?: ConvCheck | { error: string };
  }
}

convCheck().then(
  (r) => (window.consumerResult = r),
  (e: unknown) => (window.consumerResult = { error: String(e) }),
);
