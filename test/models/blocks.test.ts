// Every GELAN/YOLOv9 block against the official PyTorch implementation (fixtures made by running the official
// code: test/fixtures/gen/yolov9_blocks.py). Same weights (loaded by their official state-dict names, which
// also checks our naming), same inputs; eval outputs, train outputs, BatchNorm running-stat updates, and the
// gradients of the inputs and of every parameter. References are float64 where the fixture has them.
// The procedure is in test/shared/blocks.ts; test/browser runs it in Chromium too.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { runBlockFixture } from '../shared/blocks';
import { testDevice } from '../helpers';

const DIR = fileURLToPath(new URL('../fixtures/yolov9/blocks/', import.meta.url));

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const files = readdirSync(DIR).filter((f) => f.endsWith('.safetensors')).sort();
const worst: string[] = [];

describe('blocks vs official YOLOv9', () => {
  for (const file of files) {
    test(file.replace('.safetensors', ''), async () => {
      const maxErr = await runBlockFixture(dev, new Uint8Array(readFileSync(DIR + file)), file, expect);
      worst.push(`${file.replace('.safetensors', '')} ${maxErr.toExponential(1)}`);
    });
  }
});

afterAll(() => console.log(`max abs error vs official (per block): ${worst.join(', ')}`));
