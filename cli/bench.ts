// `gelan bench`: our engine's side of the benchmark (bench/suite.ts) on the user's own device — the same cases,
// protocol, table and JSON as `npm run bench`, without the peers (those are installed only in a checkout).
import type { Command } from 'commander';
import { type Row, jsonReport, printTable } from '../bench/report';
import { formatMemory, parseCaseFilter, runBenchmarks } from '../bench/suite';
import { writeAtomic } from './common';
import { checked, outputFile } from './options';

interface BenchArgs {
  filter?: string;
  quick?: boolean;
  skipModels?: boolean;
  skipMemory?: boolean;
  json?: string;
  tileSearch?: boolean;
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description("time this engine's kernels and models on this device: conv2d forward/input-gradient/weight-gradient on GELAN shapes, matmul, a RepNCSPELAN4 block, whole-model forward and training step (`npm run bench` adds the peers)")
    .option('--filter <regex>', 'only cases whose name matches')
    .option('--quick', '3 samples per case, no batch-8 convolutions and no 640 models')
    .option('--skip-models', 'skip the whole-model cases (and the memory line)')
    .option('--skip-memory', 'skip the gelan-t training-memory line (run only with the model cases)')
    .addOption(checked('--json <file>', 'also write the results as JSON, in the format of `npm run bench -- --json`', outputFile))
    .option('--tile-search', 'measure the tilings of each case before timing it instead of using the rules (needs timestamp-query)')
    .action(async (o: BenchArgs) => {
      const sel = { quick: o.quick ?? false, skipModels: o.skipModels ?? false };
      const filter = parseCaseFilter(o.filter, `--filter ${o.filter}`, sel);
      const r = await runBenchmarks({ ...sel, filter, skipMemory: o.skipMemory ?? false, tileSearch: o.tileSearch ?? false, log: (line) => console.log(line) });
      const rows: Row[] = r.cases.map((ours) => ({ ours, peers: {} }));
      printTable(rows, r.peak.gflops, [], { torch_cpu: 'not part of gelan bench' });
      for (const f of r.failed) console.log(`FAILED: ${f.name}: ${f.error}`);
      if (r.memory) console.log(`\n${formatMemory(r.memory)}`);
      if (o.json) {
        writeAtomic(o.json, new TextEncoder().encode(`${JSON.stringify(jsonReport(r.adapter, r.peak.gflops, rows, r.failed, {}, r.memory), null, 2)}\n`));
        console.log(`\nwrote ${o.json}`);
      }
      if (r.failed.length > 0) process.exitCode = 1;
    });
}
