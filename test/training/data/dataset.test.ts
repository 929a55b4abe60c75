// Datasets from data YAMLs and folders, on disk (Node adapter, temp dir) and in memory, and their error messages.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { listImages, openDataYaml, parseDataYaml, readDataYaml, yoloDataset, yoloFolderDataset } from '../../../training/data/dataset';
import { memoryFileSystem, normalizePath } from '../../../training/data/fs';
import { nodeFileSystem } from '../../../training/data/fs-node';
import { createImage, encodePng } from '../../../training/data/image';

const png = (w: number, h: number, v: number) => encodePng(createImage(w, h, v));

describe('data YAML on disk', () => {
  let root = '';
  const fs = nodeFileSystem();
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'gelan-data-'));
    const put = (rel: string, content: string | Uint8Array) => {
      mkdirSync(join(root, rel, '..'), { recursive: true });
      writeFileSync(join(root, rel), content);
    };
    put('ds/images/train/a.png', png(20, 10, 1));
    put('ds/images/train/sub/b.png', png(12, 16, 2));
    put('ds/images/train/.hidden.png', png(12, 12, 3));
    put('ds/images/train/notes.txt', 'not an image');
    put('ds/labels/train/a.txt', '0 0.5 0.5 0.2 0.4\n1 0.25 0.25 0.1 0.1\n');
    // b has no label file: a background image.
    put('ds/images/val/c.png', png(16, 16, 4));
    put('ds/images/val/d.png', png(16, 16, 5));
    put('ds/labels/val/c.txt', '1 0.5 0.5 0.5 0.5\n');
    put('ds/val.txt', './images/val/d.png\n./images/val/c.png\n\n');
    put('cfg/data.yaml', 'path: ../ds\ntrain: images/train\nval: val.txt\nnames:\n  0: cat\n  1: dog\n');
    put('cfg/list-names.yaml', 'path: ../ds\ntrain: [images/train, images/val]\nval: images/val\nnc: 2\nnames: [cat, dog]\n');
    put('cfg/missing.yaml', 'path: ../ds\ntrain: images/train\nval: [images/val, images/nope]\nnames: [a]\n');
    put('cfg/badlabel.yaml', 'path: ../ds\ntrain: images/train\nval: images/val\nnames: [only]\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('resolves path/train/val relative to the YAML, lists and dirs, names as a mapping', async () => {
    const cfg = await readDataYaml(fs, join(root, 'cfg/data.yaml'));
    expect(cfg.names).toEqual(['cat', 'dog']);
    expect(cfg.nc).toBe(2);
    expect(cfg.root).toBe(normalizePath(join(root, 'ds')));
    expect(cfg.train).toEqual([normalizePath(join(root, 'ds/images/train'))]);
    const train = await openDataYaml(fs, join(root, 'cfg/data.yaml'), 'train');
    // Recursive, sorted, hidden files and non-images skipped.
    expect(train.images.map((p) => p.slice(root.length))).toEqual(['/ds/images/train/a.png', '/ds/images/train/sub/b.png']);
    expect(train.labelFiles[1].slice(root.length)).toBe('/ds/labels/train/sub/b.txt');
    const a = await train.load(0);
    expect([a.image.width, a.image.height]).toEqual([20, 10]);
    expect(Array.from(a.labels.cls)).toEqual([0, 1]);
    expect((await train.labels(1)).cls.length).toBe(0);
    expect(await train.imageSize(1)).toEqual({ width: 12, height: 16 });
    const val = await openDataYaml(fs, join(root, 'cfg/data.yaml'), 'val');
    // './' lines resolve against the list's folder; the result is sorted as the official loader does.
    expect(val.images.map((p) => p.slice(root.length))).toEqual(['/ds/images/val/c.png', '/ds/images/val/d.png']);
    expect(Array.from((await val.labels(0)).cls)).toEqual([1]);
  });

  test('train as a list, names as a list, matching nc', async () => {
    const ds = await openDataYaml(fs, join(root, 'cfg/list-names.yaml'), 'train');
    expect(ds.length).toBe(4);
    expect(ds.names).toEqual(['cat', 'dog']);
  });

  test('missing paths and bad labels are reported by name', async () => {
    await expect(readDataYaml(fs, join(root, 'cfg/missing.yaml'))).rejects.toThrow(
      `${join(root, 'cfg/missing.yaml')}: dataset not found, missing val path(s): ${normalizePath(join(root, 'ds/images/nope'))}`,
    );
    await expect(readDataYaml(fs, join(root, 'cfg/none.yaml'))).rejects.toThrow(`data YAML ${join(root, 'cfg/none.yaml')} does not exist`);
    await expect(openDataYaml(fs, join(root, 'cfg/badlabel.yaml'), 'train')).rejects.toThrow(
      `${normalizePath(join(root, 'ds/labels/train/a.txt'))}:2: class 1 is not an integer in [0, 0] (the dataset has nc=1)`,
    );
    await expect(yoloDataset(fs, [join(root, 'ds/images/absent')], ['x'])).rejects.toThrow(`image source ${join(root, 'ds/images/absent')} does not exist`);
    await expect(nodeFileSystem().readFile(join(root, 'nope.png'))).rejects.toThrow(`${join(root, 'nope.png')}: cannot read (ENOENT)`);
  });

  test('a folder of images with labels/ beside them', async () => {
    const dir = join(root, 'flat');
    mkdirSync(join(dir, 'labels'), { recursive: true });
    writeFileSync(join(dir, 'x.png'), png(10, 10, 9));
    writeFileSync(join(dir, 'y.png'), png(10, 10, 9));
    writeFileSync(join(dir, 'labels', 'x.txt'), '4 0.5 0.5 0.5 0.5\n');
    const ds = await yoloFolderDataset(fs, dir);
    expect(ds.length).toBe(2);
    expect(ds.names).toEqual(['0', '1', '2', '3', '4']); // no names given: classes named by index
    writeFileSync(join(dir, 'classes.txt'), 'a\nb\nc\nd\ne\nf\n');
    expect((await yoloFolderDataset(fs, dir)).names).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    // The official layout inside the folder works too.
    const official = await yoloFolderDataset(fs, join(root, 'ds'), { names: ['cat', 'dog'] });
    expect(official.length).toBe(4);
    await expect(yoloFolderDataset(fs, join(root, 'nothing'))).rejects.toThrow(`dataset folder ${join(root, 'nothing')} does not exist or is not a folder`);
  });
});

describe('data YAML parsing and in-memory datasets', () => {
  test('YAML field errors', () => {
    expect(() => parseDataYaml('train: a\nnames: [x]\n', 'd.yaml')).toThrow("d.yaml: the 'val:' field is missing");
    expect(() => parseDataYaml('train: a\nval: b\nnc: 3\nnames: [x, y]\n', 'd.yaml')).toThrow("d.yaml: nc is 3 but 'names' lists 2 classes");
    expect(() => parseDataYaml('train: a\nval: b\nnames: {0: x, 2: y}\n', 'd.yaml')).toThrow("d.yaml: 'names' keys must be the integers 0..1 (e.g. '2: car'), found '2'");
    expect(() => parseDataYaml('train: a\nval: b\nnames: 7\n', 'd.yaml')).toThrow("d.yaml: 'names' must be a list or a mapping of class index to name");
    expect(() => parseDataYaml('train: [a\n', 'd.yaml')).toThrow(/^d\.yaml: invalid YAML: /);
    const abs = parseDataYaml('path: /data/coco\ntrain: train2017.txt\nval: [val2017.txt]\ntest: \nnames: [a]\n', '/cfg/coco.yaml');
    expect([abs.root, abs.train, abs.val, abs.test]).toEqual(['/data/coco', ['/data/coco/train2017.txt'], ['/data/coco/val2017.txt'], []]);
  });

  test("official '../' fallback and formats that cannot be decoded", async () => {
    const fs = memoryFileSystem({
      '/d/images/a.jpg': new Uint8Array([0xff, 0xd8, 0xff]),
      '/d/images/b.webp': new Uint8Array(4),
      '/cfg/data.yaml': 'path: /d\ntrain: ../images\nval: ../images\nnames: [a]\n',
    });
    const cfg = await readDataYaml(fs, '/cfg/data.yaml');
    expect(cfg.train).toEqual(['/d/images']); // '/d/../images' does not exist, '/d/images' does
    await expect(listImages(fs, ['/d/images'])).rejects.toThrow(
      '1 image(s) in formats that cannot be decoded here (only JPEG and PNG), e.g. /d/images/b.webp; convert them to JPEG or PNG',
    );
    await expect(listImages(memoryFileSystem({ '/e/readme.md': 'x' }), ['/e'])).rejects.toThrow('no images found in /e');
  });
});
