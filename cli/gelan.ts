#!/usr/bin/env node
// The `gelan` command line. Subcommands are added by the models and training layers.
import { Command } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { selfcheck } from './selfcheck';
import { registerModelCommands } from './models';
import { registerTrainCommand } from './train';
import { registerValCommand } from './val';
import { registerDetectCommand } from './detect';
import { registerDemoCommand } from './demo';
import { registerBenchCommand } from './bench';
import { registerExportCommand } from './export';
import { markRequiredOptions } from './options';
import { isCommandProcess } from './relay';

const program = new Command('gelan').description('WebGPU engine for YOLOv9 / GELAN: training and inference in Node and browsers');
program.version(pkg.version, '-V, --version', 'print the version');
markRequiredOptions(program);

program
  .command('selfcheck')
  .description('print the WebGPU adapter and features, run a conv forward+backward and check it against a float64 CPU computation')
  .action(async () => {
    const ok = await selfcheck();
    process.exitCode = ok ? 0 : 1;
  });

registerModelCommands(program);
registerTrainCommand(program);
registerValCommand(program);
registerDetectCommand(program);
registerDemoCommand(program);
registerBenchCommand(program);
registerExportCommand(program);

// the parent process only relays the command's output (see relay.ts)
if (isCommandProcess()) {
  program.parseAsync(process.argv).catch((e: unknown) => {
    console.error(`gelan: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
