// Model commands: info, convert, reparam, predict.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { createDevice } from '../engine/create-device';
import { noGrad, tensor, tidy } from '../engine/tensor';
import { DetectionModel, fuseModel, gelanConfigFor, removeAuxBranch, saveSafetensors, seededRandom } from '../models';
import { readNpy, writeNpy } from '../models/io/npy';
import { toFloat32 } from '../models/io/dtypes';
import { writeSafetensors } from '../models/io/safetensors';
import { checkImageSize, configArg, maxStride, modelFromWeights, readWeights, weightsArg, writeAtomic } from './common';
import { checked, existingFile, outputFile, positiveInt } from './options';

export function registerModelCommands(program: Command): void {
  program
    .command('info')
    .description('print the layer table, parameter count and GFLOPs of a model config')
    .requiredOption('--cfg <name|file>', 'built-in config name, YAML file in the official format, or weights file carrying its config (.safetensors, .pt)')
    .addOption(checked('--imgsz <n>', 'image size for output shapes and GFLOPs', positiveInt, 640))
    .addOption(checked('--nc <n>', "number of classes (default: the config's)", positiveInt))
    .action(async (o: { cfg: string; imgsz: number; nc?: number }) => {
      const cfg = configArg(o.cfg, o.nc);
      checkImageSize(o.imgsz, cfg);
      const dev = await createDevice();
      const m = new DetectionModel(dev, cfg, seededRandom(0));
      for (const line of m.table(o.imgsz)) console.log(line);
      const unfused = m.numParameters();
      const gflops = m.gflops(o.imgsz);
      fuseModel(m);
      console.log(`${cfg.source}: ${m.rows.length} layers, ${unfused.toLocaleString('en-US')} parameters (${m.numParameters().toLocaleString('en-US')} fused), ${gflops.toFixed(1)} GFLOPs at ${o.imgsz}x${o.imgsz}`);
      m.dispose();
      dev.dispose();
    });

  program
    .command('convert')
    .description('convert an official PyTorch checkpoint (.pt) to safetensors with our (= the official) names')
    .argument('<in.pt>', 'official checkpoint')
    .argument('<out.safetensors>', 'output weights')
    .action((input: string, out: string) => {
      outputFile(out, '<out.safetensors>');
      const w = readWeights(input, '<in.pt>');
      if (w.format !== 'torch') throw new Error(`${input} is not a PyTorch checkpoint`);
      const tensors = new Map([...w.tensors].map(([k, t]) => [k, t.dtype === 'I64' ? t : { dtype: 'F32' as const, shape: t.shape, data: toFloat32(t) }]));
      const meta: Record<string, string> = { format: 'gelan-webgpu', source: input };
      if (w.config) Object.assign(meta, { config: stringify(w.config.raw), nc: String(w.config.nc) });
      writeAtomic(out, writeSafetensors(tensors, meta));
      const n = [...tensors.values()].filter((t) => t.dtype === 'F32').reduce((s, t) => s + t.data.length, 0);
      console.log(`${input} -> ${out}: ${tensors.size} tensors, ${n.toLocaleString('en-US')} values (float32)${w.config ? `, config ${w.config.nc} classes` : ''}`);
    });

  program
    .command('reparam')
    .description('remove the PGI auxiliary branch: a trained yolov9-X becomes the matching gelan-X')
    .addOption(checked('--weights <file>', 'dual-head weights (.safetensors or official .pt)', existingFile).makeOptionMandatory())
    .option('--cfg <name|file.yaml>', 'target single-head config, e.g. gelan-t (default: derived from the dual-head graph)')
    .addOption(checked('--out <file.safetensors>', 'output weights', outputFile).makeOptionMandatory())
    .option('--src-cfg <name|file.yaml>', 'config of the input weights when they carry none')
    .action(async (o: { weights: string; cfg?: string; out: string; srcCfg?: string }) => {
      const src = weightsArg(o.weights, o.srcCfg);
      const target = o.cfg ? configArg(o.cfg) : null;
      const dev = await createDevice();
      const { model: dual } = modelFromWeights(dev, src);
      if (!dual.isDual) throw new Error(`${o.weights}: ${dual.config.source} has no auxiliary branch (its head is DDetect)`);
      const gelan = removeAuxBranch(dual, target ?? gelanConfigFor(dual.config));
      // check on a random image that the converted model reproduces the main branch
      const s = 2 * dual.maxStride;
      const rand = seededRandom(1);
      const x = tensor(dev, Array.from({ length: 3 * s * s }, rand), [1, 3, s, s]);
      dual.eval();
      gelan.eval();
      const [a, b] = noGrad(dev, () => tidy(dev, () => [dual.forward(x).main.y!.data(), gelan.forward(x).main.y!.data()]));
      const ya = await a;
      const yb = await b;
      let rel = 0;
      for (let i = 0; i < ya.length; i++) rel = Math.max(rel, Math.abs(ya[i] - yb[i]) / Math.max(Math.abs(ya[i]), 1e-6));
      writeAtomic(o.out, await saveSafetensors(gelan, { source: o.weights }));
      console.log(`${o.weights} (${dual.config.source}, ${dual.numParameters().toLocaleString('en-US')} params) -> ${o.out} (${gelan.config.source}, ${gelan.numParameters().toLocaleString('en-US')} params); main-branch output max relative difference ${rel.toExponential(2)}`);
      if (!(rel <= 1e-4)) throw new Error(`converted model differs from the main branch by ${rel} (relative) — the configs do not correspond`);
      x.dispose();
      dual.dispose();
      gelan.dispose();
      dev.dispose();
    });

  program
    .command('predict')
    .description('run inference on a preprocessed float32 NCHW .npy and write the raw output (batch, 4 + nc, anchors) as .npy')
    .addOption(checked('--weights <file>', 'weights (.safetensors or official .pt)', existingFile).makeOptionMandatory())
    .option('--cfg <name|file.yaml>', 'model config when the weights carry none (or to override)')
    .addOption(checked('--input <x.npy>', 'float32 (batch, 3, H, W), H and W multiples of the largest stride', existingFile).makeOptionMandatory())
    .addOption(checked('--out <y.npy>', 'output file', outputFile).makeOptionMandatory())
    .option('--fuse', 'fold BatchNorm and RepConvN branches first (one conv kernel per conv)', false)
    .action(async (o: { weights: string; cfg?: string; input: string; out: string; fuse: boolean }) => {
      const x = readNpy(new Uint8Array(readFileSync(o.input)), o.input);
      if (x.shape.length !== 4) throw new Error(`${o.input}: expected a 4-D (batch, 3, H, W) array, got shape [${x.shape.join(', ')}]`);
      const w = weightsArg(o.weights, o.cfg);
      const s = maxStride(w.config);
      if (x.shape[1] !== 3 || x.shape[2] % s !== 0 || x.shape[3] % s !== 0) throw new Error(`--input ${o.input} must be (batch, 3, H, W) with H and W multiples of ${s}, got [${x.shape.join(', ')}]`);
      const dev = await createDevice();
      const { model } = modelFromWeights(dev, w);
      model.eval();
      if (o.fuse) fuseModel(model);
      const t0 = performance.now();
      const xt = tensor(dev, toFloat32(x), x.shape);
      const y = noGrad(dev, () => tidy(dev, () => model.forward(xt).main.y!));
      const data = await y.data();
      writeAtomic(o.out, writeNpy({ dtype: 'F32', shape: [...y.shape], data }));
      console.log(`${o.out}: (${y.shape.join(', ')}) from ${model.config.source}${model.isDual ? ' (main branch)' : ''} in ${(performance.now() - t0).toFixed(0)} ms`);
      y.dispose();
      xt.dispose();
      model.dispose();
      dev.dispose();
    });
}
