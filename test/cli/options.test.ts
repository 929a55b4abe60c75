// The CLI's option checks (cli/options.ts) and the filter for Dawn's limit notes (cli/relay.ts), without a build:
// each kind of value is accepted or refused with an error that names the option and the value.
import { Command } from 'commander';
import { describe, expect, test } from 'vitest';
import { checked, existingFile, existingPath, fraction, markRequiredOptions, nameList, nonNegativeInt, oneOf, outputFile, positiveInt, positiveNumber } from '../../cli/options';
import { isDawnLimitNote } from '../../cli/relay';
import { budgetRefit, epochsInBudget } from '../../cli/train';

describe('option values', () => {
  test('integers: positive and non-negative, written in full', () => {
    expect(positiveInt('8', '--batch')).toBe(8);
    expect(positiveInt('1e3', '--batch')).toBe(1000);
    for (const bad of ['0', '-1', '1.5', '', ' ', 'abc', '8x', 'Infinity', '0x10']) expect(() => positiveInt(bad, '--batch')).toThrow(`--batch must be a positive integer, got ${bad}`);
    expect(nonNegativeInt('0', '--seed')).toBe(0);
    expect(() => nonNegativeInt('-1', '--seed')).toThrow('--seed must be a non-negative integer, got -1');
  });

  test('numbers: positive, and fractions from 0 to 1 inclusive', () => {
    expect(positiveNumber('0.5', '--minutes')).toBe(0.5);
    expect(() => positiveNumber('0', '--minutes')).toThrow('--minutes must be a positive number, got 0');
    expect(fraction('0', '--conf')).toBe(0);
    expect(fraction('1', '--conf')).toBe(1);
    expect(fraction('.25', '--conf')).toBe(0.25);
    for (const bad of ['1.01', '-0.1', 'NaN', '']) expect(() => fraction(bad, '--iou')).toThrow(`--iou must be a number from 0 to 1, got ${bad}`);
  });

  test('names, words and paths', () => {
    expect(nameList('a,b,c', '--names')).toBe('a,b,c');
    expect(() => nameList('a,,c', '--names')).toThrow("--names must be a comma-separated list of non-empty names, got 'a,,c'");
    expect(oneOf('SGD', 'AdamW')('AdamW', '--optimizer')).toBe('AdamW');
    expect(() => oneOf('SGD', 'AdamW')('Adam', '--optimizer')).toThrow('--optimizer must be one of SGD, AdamW, got Adam');
    expect(existingFile('package.json', '--weights')).toBe('package.json');
    expect(() => existingFile('nope.pt', '--weights')).toThrow('--weights nope.pt: no such file');
    expect(() => existingFile('test', '--weights')).toThrow('--weights test: no such file');
    expect(existingPath('test', '--source')).toBe('test');
    expect(() => existingPath('nope', '--source')).toThrow('--source nope: no such file or folder');
    expect(outputFile('out.json', '--json')).toBe('out.json');
    expect(() => outputFile('nope/out.json', '--json')).toThrow('--json nope/out.json: no such folder nope');
    expect(() => outputFile('test', '--out')).toThrow('--out test: is a folder, not a file');
  });

  test('checked options run their check while commander parses, with the long flag as the name', () => {
    const cmd = new Command('x').exitOverride().addOption(checked('-b, --batch <n>', 'batch size', positiveInt, 8));
    expect(cmd.parse([], { from: 'user' }).opts().batch).toBe(8);
    expect(cmd.parse(['-b', '4'], { from: 'user' }).opts().batch).toBe(4);
    expect(() => cmd.parse(['--batch', '-1'], { from: 'user' })).toThrow('--batch must be a positive integer, got -1');
  });

  test('help marks required options, and only those', () => {
    const program = new Command('gelan');
    markRequiredOptions(program);
    const sub = program.command('val').requiredOption('--weights <file>', 'weights').option('--cfg <name>', 'config');
    const help = sub.helpInformation();
    expect(help).toMatch(/--weights <file>\s+weights \(required\)$/m);
    expect(help).toMatch(/--cfg <name>\s+config$/m);
  });
});

test("Dawn's limit notes are recognised exactly; other lines are not", () => {
  expect(isDawnLimitNote('Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.')).toBe(true);
  expect(isDawnLimitNote('Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.')).toBe(true);
  expect(isDawnLimitNote('Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced')).toBe(false);
  expect(isDawnLimitNote('Warning: something else from Dawn')).toBe(false);
  expect(isDawnLimitNote('gelan: --batch must be a positive integer, got -1')).toBe(false);
});

describe('the time budget of `gelan demo`', () => {
  test('epochs that fit: those run plus the rest of the budget at the measured pace with a margin', () => {
    // 510 s budget, first epoch 33 s, then 28 s each with a 20 % margin: 1 + floor(477 / 33.6) = 15
    expect(epochsInBudget({ budget: 510, elapsed: 33, pace: 28, margin: 1.2, done: 1 })).toBe(15);
    // refitted after 3 epochs (89 s) at 26.5 s each, margin 10 %: 3 + floor(421 / 29.15) = 17
    expect(epochsInBudget({ budget: 510, elapsed: 89, pace: 26.5, margin: 1.1, done: 3 })).toBe(17);
    // over budget already: never fewer than the epochs run, never 0
    expect(epochsInBudget({ budget: 60, elapsed: 90, pace: 30, margin: 1.1, done: 3 })).toBe(3);
    expect(epochsInBudget({ budget: 10, elapsed: 40, pace: 40, margin: 1.2, done: 1 })).toBe(1);
  });
  test('refits after each validation cycle from the last two cycles: both ways in the first half, then only down', () => {
    // odd epoch counts after the first: mid-cycle, no refit
    expect(budgetRefit([20], 2, 24)).toBeNull();
    expect(budgetRefit([20, 21, 19], 4, 24)).toBeNull();
    // one cycle: its mean, 10 % margin; two or more: the last two cycles' mean, 7 %
    expect(budgetRefit([20, 22], 3, 24)).toEqual({ pace: 21, margin: 1.1, lowerOnly: false });
    expect(budgetRefit([30, 30, 20, 22, 18, 20], 7, 24)).toEqual({ pace: 20, margin: 1.07, lowerOnly: false });
    expect(budgetRefit(Array(10).fill(20), 11, 24)).toEqual({ pace: 20, margin: 1.07, lowerOnly: false });
    // past half of the planned epochs: only a pace that overruns the budget changes the count (no margin)
    expect(budgetRefit([...Array(10).fill(20), 26, 28], 13, 24)).toEqual({ pace: 23.5, margin: 1, lowerOnly: true });
  });
});
