// Option values of the `gelan` commands: one check per kind of value, each naming its option in the error. They
// run while commander parses the command line, so a bad value stops the command before it starts any work.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Help, Option } from 'commander';
import type { Command } from 'commander';

/** Turns an option's text into its value or throws an error that names the option. */
export type ValueCheck<T> = (value: string, option: string) => T;

/** The error for a bad value: `--batch must be a positive integer, got -1`. */
export const invalid = (option: string, what: string, value: string): Error => new Error(`${option} must be ${what}, got ${value}`);
const fail = invalid;

/** A number written in full (no empty string, no trailing junk: `Number('')` would be 0). */
const number = (v: string): number => (/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(v) ? Number(v) : NaN);

export const positiveInt: ValueCheck<number> = (v, o) => {
  const n = number(v);
  if (!Number.isInteger(n) || n < 1) throw fail(o, 'a positive integer', v);
  return n;
};

export const nonNegativeInt: ValueCheck<number> = (v, o) => {
  const n = number(v);
  if (!Number.isInteger(n) || n < 0) throw fail(o, 'a non-negative integer', v);
  return n;
};

export const positiveNumber: ValueCheck<number> = (v, o) => {
  const n = number(v);
  if (!Number.isFinite(n) || n <= 0) throw fail(o, 'a positive number', v);
  return n;
};

/** Thresholds (confidence, IoU): a number from 0 to 1. */
export const fraction: ValueCheck<number> = (v, o) => {
  const n = number(v);
  if (!(n >= 0 && n <= 1)) throw fail(o, 'a number from 0 to 1', v);
  return n;
};

/** A comma-separated list of non-empty names (class names), kept as written (runs record it so). */
export const nameList: ValueCheck<string> = (v, o) => {
  if (v.split(',').some((s) => s.trim() === '')) throw fail(o, 'a comma-separated list of non-empty names', `'${v}'`);
  return v;
};

/** An input file that must exist. */
export const existingFile: ValueCheck<string> = (v, o) => {
  if (!existsSync(v) || statSync(v).isDirectory()) throw new Error(`${o} ${v}: no such file`);
  return v;
};

/** An input file or folder that must exist. */
export const existingPath: ValueCheck<string> = (v, o) => {
  if (!existsSync(v)) throw new Error(`${o} ${v}: no such file or folder`);
  return v;
};

/** An output file: its folder must exist (checked before the work whose result it will hold). */
export const outputFile: ValueCheck<string> = (v, o) => {
  if (existsSync(v) && statSync(v).isDirectory()) throw new Error(`${o} ${v}: is a folder, not a file`);
  if (!existsSync(dirname(resolve(v)))) throw new Error(`${o} ${v}: no such folder ${dirname(v)}`);
  return v;
};

/** One of a fixed set of words. */
export const oneOf =
  <T extends string>(...words: readonly T[]): ValueCheck<T> =>
  (v, o) => {
    if (!words.includes(v as T)) throw fail(o, `one of ${words.join(', ')}`, v);
    return v as T;
  };

/** An option whose value is checked by `check` while the command line is parsed. */
export function checked<T>(flags: string, description: string, check: ValueCheck<T>, defaultValue?: T): Option {
  const opt = new Option(flags, description);
  const name = opt.long ?? opt.short ?? flags;
  opt.argParser((v: string) => check(v, name));
  if (defaultValue !== undefined) opt.default(defaultValue);
  return opt;
}

/** Help that marks the options a command cannot run without; set on the program before adding commands. */
export function markRequiredOptions(program: Command): void {
  const plain = new Help();
  program.configureHelp({
    optionDescription: (option: Option): string => {
      const base = plain.optionDescription(option);
      return option.mandatory ? `${base} (required)` : base;
    },
  });
}
