// The zip reader (training/data/archive.ts) on crafted archives — a good YOLO dataset, truncated files, path
// traversal names, zip bombs (declared and lying sizes), corrupt data, non-images named .jpg — and the user-dataset
// opener on top of it (training/data/user-dataset.ts): names, splits, file:line label errors, lazy decoding.
import { zipSync } from 'fflate';
import { describe, expect, test } from 'vitest';
import { bytesSource, openZip } from '../../../training/data/archive';
import { encodePng } from '../../../training/data/image';
import { datasetStats, openUserDataset, splitIndices } from '../../../training/data/user-dataset';
import { labelName, shapesZip } from '../../shared/yolo-zip';

const enc = new TextEncoder();

/** Offset of the central-directory record of entry `name` (for patching sizes). */
function cdRecord(zip: Uint8Array, name: string): number {
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = zip.length - 22;
  while (dv.getUint32(eocd, true) !== 0x06054b50) eocd--;
  let p = dv.getUint32(eocd + 16, true);
  for (;;) {
    const n = dv.getUint16(p + 28, true);
    if (new TextDecoder().decode(zip.subarray(p + 46, p + 46 + n)) === name) return p;
    p += 46 + n + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
}

describe('zip archive reader', () => {
  test('reads entries lazily and checks them', async () => {
    const zip = zipSync({ 'a/b.txt': enc.encode('hello'), 'big.bin': new Uint8Array(100_000).fill(7), 'dir/': new Uint8Array(0) }, { level: 6 });
    const a = await openZip(bytesSource(zip), 'x.zip');
    expect(a.skipped).toEqual([]);
    expect(a.entries.map((e) => e.path).sort()).toEqual(['/a/b.txt', '/big.bin']);
    expect(new TextDecoder().decode(await a.fs.readFile('/a/b.txt'))).toBe('hello');
    expect((await a.fs.readFile('/big.bin')).every((v) => v === 7)).toBe(true);
    expect(Array.from(await a.fs.readFileHead!('/big.bin', 10))).toEqual(new Array(10).fill(7));
    expect(await a.fs.isDirectory('/a')).toBe(true);
  });

  test('a truncated archive is refused', async () => {
    const zip = zipSync({ 'a.txt': enc.encode('x'.repeat(1000)) });
    await expect(openZip(bytesSource(zip.subarray(0, zip.length - 10)), 't.zip')).rejects.toThrow(/t\.zip: not a zip archive or truncated \(no end-of-central-directory record\)/);
    await expect(openZip(bytesSource(zip.subarray(0, 10)), 't.zip')).rejects.toThrow(/t\.zip: not a zip archive \(too short\)/);
    await expect(openZip(bytesSource(enc.encode('just some text that is not an archive at all')), 'n.zip')).rejects.toThrow(/n\.zip: not a zip archive or truncated/);
    // data cut out of the middle (the directory now points past its real place)
    const cut = new Uint8Array([...zip.subarray(0, 40), ...zip.subarray(80)]);
    await expect(openZip(bytesSource(cut), 'c.zip')).rejects.toThrow(/c\.zip: truncated \(the central directory lies beyond the end of the file\)|c\.zip: corrupt central directory/);
  });

  test('entry names that leave the archive folder are skipped and named', async () => {
    const zip = zipSync({ '../evil.txt': enc.encode('x'), 'ok/../../up.txt': enc.encode('x'), '/etc/passwd': enc.encode('x'), 'C:/win.txt': enc.encode('x'), 'ok.txt': enc.encode('fine') });
    const a = await openZip(bytesSource(zip), 'p.zip');
    expect(a.entries.map((e) => e.path)).toEqual(['/ok.txt']);
    expect(a.skipped).toEqual([
      "p.zip: entry '../evil.txt' skipped: its name contains '..' (it would leave the archive's folder)",
      "p.zip: entry 'ok/../../up.txt' skipped: its name contains '..' (it would leave the archive's folder)",
      "p.zip: entry '/etc/passwd' skipped: its name is an absolute path",
      "p.zip: entry 'C:/win.txt' skipped: its name starts with a drive letter",
    ]);
    expect(await a.fs.exists('/evil.txt')).toBe(false);
    expect(await a.fs.exists('/up.txt')).toBe(false);
  });

  test('zip bombs: implausible ratios and declared sizes are skipped, lying sizes stop inflating at the declared size', async () => {
    const zeros = new Uint8Array(8 * 2 ** 20);
    const zip = zipSync({ 'bomb.bin': zeros, 'small.txt': enc.encode('ok') }, { level: 9 });
    const a = await openZip(bytesSource(zip), 'b.zip');
    expect(a.entries.map((e) => e.path)).toEqual(['/small.txt']);
    expect(a.skipped[0]).toMatch(/^b\.zip: entry 'bomb\.bin' skipped: it declares 8388608 unpacked bytes from \d+ packed \(ratio over 200: a zip bomb\?\)$/);
    const limited = await openZip(bytesSource(zip), 'b.zip', { maxEntryBytes: 1000, maxRatio: 1e9 });
    expect(limited.skipped[0]).toMatch(/entry 'bomb\.bin' skipped: it declares 8388608 unpacked bytes, more than the limit of 1000/);
    await expect(openZip(bytesSource(zip), 'b.zip', { maxTotalBytes: 1000, maxRatio: 1e9 })).rejects.toThrow(/b\.zip: the entries declare more than 1000 unpacked bytes in all/);

    // an entry whose central directory claims 100 bytes but inflates to 8 MiB: reading stops past 100
    const lying = zipSync({ 'liar.bin': zeros }, { level: 9 });
    const p = cdRecord(lying, 'liar.bin');
    new DataView(lying.buffer, lying.byteOffset).setUint32(p + 24, 100, true);
    const l = await openZip(bytesSource(lying), 'l.zip');
    expect(l.skipped).toEqual([]);
    await expect(l.fs.readFile('/liar.bin')).rejects.toThrow(/l\.zip: entry 'liar\.bin': inflates to more than its declared 100 bytes \(a zip bomb\?\)/);
  });

  test('corrupt entry data is an error naming the entry', async () => {
    const zip = zipSync({ 'data.txt': enc.encode('some text '.repeat(200)) }, { level: 6 });
    const bad = zip.slice();
    bad[40] ^= 0xff;
    bad[45] ^= 0xff;
    const a = await openZip(bytesSource(bad), 'd.zip');
    await expect(a.fs.readFile('/data.txt')).rejects.toThrow(/d\.zip: entry 'data\.txt': (CRC mismatch|cannot inflate|inflates to)/);
    const stored = zipSync({ 's.txt': enc.encode('stored bytes') }, { level: 0 });
    const s2 = stored.slice();
    s2[s2.indexOf(0x73, 35)] ^= 1;
    await expect((await openZip(bytesSource(s2), 's.zip')).fs.readFile('/s.txt')).rejects.toThrow(/s\.zip: entry 's\.txt': CRC mismatch/);
  });
});

describe('user datasets from an archive', () => {
  test('images/ + labels/ + data.yaml: names from the yaml, a val split held out, images decoded when loaded', async () => {
    const { bytes, names } = await shapesZip({ images: 12, imgsz: 64, mixedSizes: true });
    const a = await openZip(bytesSource(bytes), 'shapes.zip');
    const ds = await openUserDataset(a.fs, '/', { label: 'shapes.zip' });
    expect(ds.names).toEqual(names);
    expect([ds.train.length, ds.val.length]).toEqual([10, 2]);
    expect(ds.source).toBe('shapes.zip (10 train / 2 val images, 6 classes, names from data.yaml; no val split: every 5th image held out for validation)');
    expect(splitIndices(12, 0.2).val).toEqual([4, 9]);
    expect(ds.val.path(0)).toBe(`/images/${labelName(4)}.jpg`);
    const wide = await ds.train.load(2);
    expect([wide.image.width, wide.image.height]).toEqual([96, 64]);
    const st = await datasetStats(ds.train);
    expect(st.images).toBe(10);
    expect(st.perClass.reduce((x, y) => x + y, 0)).toBe(st.boxes);
    expect(st.boxes).toBeGreaterThan(10);
  });

  test('opening reads the directory, labels and image signatures only: images are read when a batch loads them', async () => {
    // noisy 512×512 PNGs barely compress, so the images are nearly all of the archive's bytes; a signature read
    // inflates a few stored DEFLATE blocks' worth (fflate emits a stored block once it has enough of it)
    const files: Record<string, Uint8Array> = {};
    let seed = 1;
    for (let i = 0; i < 4; i++) {
      const data = new Uint8Array(512 * 512 * 3).map(() => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24);
      files[`images/n${i}.png`] = encodePng({ width: 512, height: 512, data });
      files[`labels/n${i}.txt`] = enc.encode('0 0.5 0.5 0.2 0.2\n');
    }
    const zip = zipSync(files, { level: 6 });
    let read = 0;
    const src = bytesSource(zip);
    const counting = { size: src.size, read: async (o: number, n: number) => ((read += n), src.read(o, n)) };
    const ds = await openUserDataset((await openZip(counting, 'noise.zip')).fs, '/', { label: 'noise.zip' });
    expect(ds.train.length + ds.val.length).toBe(4);
    expect(read / zip.length, `read ${read} of ${zip.length} bytes to open`).toBeLessThan(0.1);
    const before = read;
    await ds.train.load(0);
    expect(read - before).toBeGreaterThan(512 * 512 * 3 * 0.9);
  });

  test('a bad label line is reported by file and line; a non-image named .jpg is skipped and named', async () => {
    const { files } = await shapesZip({ images: 6, imgsz: 64, badLabel: { image: 3, line: 2 } });
    const bad = await openZip(bytesSource(zipSync(files)), 'bad.zip');
    await expect(openUserDataset(bad.fs, '/', { label: 'bad.zip' })).rejects.toThrow(`/labels/${labelName(3)}.txt:2: expected 5 values (class cx cy w h) or a polygon`);

    const { files: ok } = await shapesZip({ images: 6, imgsz: 64, yaml: false });
    // in a top folder (as zipping a folder makes), with a text file named .jpg
    const nested: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(ok)) nested[`mydata/${k}`] = v;
    nested['mydata/images/notes.jpg'] = enc.encode('these are my notes');
    const a = await openZip(bytesSource(zipSync(nested)), 'n.zip');
    const ds = await openUserDataset(a.fs, '/', { label: 'n.zip' });
    expect(ds.warnings).toEqual(['/mydata/images/notes.jpg: not a JPEG or PNG image although named .jpg (skipped)']);
    expect(ds.train.length + ds.val.length).toBe(6);
    expect(ds.names.length).toBeLessThanOrEqual(6);
    expect(ds.source).toMatch(/classes numbered from the labels/);
  });

  test('images/train and images/val are used as given', async () => {
    const { files } = await shapesZip({ images: 6, imgsz: 64 });
    const split: Record<string, Uint8Array> = { 'data.yaml': files['data.yaml'] };
    for (const [k, v] of Object.entries(files)) {
      const m = /^(images|labels)\/(img(\d+)\.\w+)$/.exec(k);
      if (m) split[`${m[1]}/${Number(m[3]) < 4 ? 'train' : 'val'}/${m[2]}`] = v;
    }
    const a = await openZip(bytesSource(zipSync(split)), 's.zip');
    const ds = await openUserDataset(a.fs, '/', { label: 's.zip' });
    expect([ds.train.length, ds.val.length]).toEqual([4, 2]);
    expect(ds.source).toMatch(/images\/val as validation/);
    expect((await ds.val.labels(0)).cls.length).toBeGreaterThan(0);
  });
});
