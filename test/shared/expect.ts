// The few assertions the shared test procedures make. Node tests pass vitest's `expect`; a browser page passes
// `pageExpect`, which throws an Error with the same message (vitest's diff aside).

export interface Assertion {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toBeDefined(): void;
  readonly not: { toBeNull(): void };
}
export type Expect = (actual: unknown, message?: string) => Assertion;

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export const pageExpect: Expect = (actual, message) => {
  const fail = (what: string): never => {
    throw new Error(message ? `${message}: ${what}` : what);
  };
  return {
    toBe: (e) => void (Object.is(actual, e) || fail(`expected ${show(actual)} to be ${show(e)}`)),
    toEqual: (e) => void (deepEqual(actual, e) || fail(`expected ${show(actual)} to equal ${show(e)}`)),
    toBeDefined: () => void (actual !== undefined || fail('expected a defined value')),
    not: { toBeNull: () => void (actual !== null || fail('expected a value, got null')) },
  };
};
