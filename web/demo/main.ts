// The demo page's UI thread: controls, live charts, predictions and detections. All engine work runs in
// web/demo/worker.ts; this file only sends requests and draws what comes back, so the page never freezes.
//
// URL parameters preset the form (cfg, imgsz, batch, epochs, train, val, seed) and `steps=N` pauses training
// after N steps (also after resuming a checkpoint); `autostart=1` starts at once. The browser tests use them.
import { annotate } from '../../training/data/draw';
import { LineChart } from './chart';
import type { BenchRow, Box, DeviceReport, FolderFile, FromWorker, LabelBox, Rgb, RunSettings, RunState, SplitStats, ToWorker } from './protocol';

/** What the page exposes for tests and the console (read-only view of its state). */
export interface DemoState {
  ready: boolean;
  fatal: string | null;
  device: DeviceReport | null;
  state: RunState;
  steps: number;
  /** Per training step: [iteration, box, cls, dfl, images/s]. */
  losses: number[][];
  epochs: { epoch: number; train: readonly number[]; map50: number | null; map: number | null; seconds: number }[];
  predictionRounds: number;
  detections: { boxes: Box[]; ms: number; width: number; height: number } | null;
  model: string | null;
  /** Parameters of the model detection uses now. */
  parameters: number;
  saved: { name: string; bytes: number } | null;
  bench: { adapter: string; peakGflops: number; rows: BenchRow[] } | null;
  errors: string[];
  /** One-line reports: weights transferred, files skipped, resumed checkpoints. */
  notes: string[];
  dataset: { name: string; source: string; names: readonly string[]; train: SplitStats; val: SplitStats; warnings: readonly string[]; thumbnails: number } | null;
  /** The live detection loop: frames detected and frames per second (detection + drawing, end to end). */
  live: { running: boolean; frames: number; fps: number; source: string } | null;
}

declare global {
  interface Window {
    gelanDemo?: DemoState;
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo page: missing #${id}`);
  return el as T;
};

const demo: DemoState = { ready: false, fatal: null, device: null, state: 'starting', steps: 0, losses: [], epochs: [], predictionRounds: 0, detections: null, model: null, parameters: 0, saved: null, bench: null, errors: [], notes: [], dataset: null, live: null };
window.gelanDemo = demo;

function fatal(message: string): void {
  demo.fatal = message;
  const el = $('fatal');
  el.textContent = message;
  el.style.display = 'block';
  $('device').textContent = 'no WebGPU device';
  for (const id of ['start', 'pause', 'resume', 'save', 'camera', 'live', 'save-checkpoint', 'bench-run']) $<HTMLButtonElement>(id).disabled = true;
}

function logError(about: string, message: string): void {
  demo.errors.push(`${about}: ${message}`);
  const el = $('log');
  el.textContent += `${about}: ${message}\n`;
  el.scrollTop = el.scrollHeight;
}

/** RGB (HWC bytes) → a canvas showing it. */
function paint(canvas: HTMLCanvasElement, img: Rgb): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const rgba = new ImageData(img.width, img.height);
  for (let i = 0, n = img.width * img.height; i < n; i++) {
    rgba.data[4 * i] = img.data[3 * i];
    rgba.data[4 * i + 1] = img.data[3 * i + 1];
    rgba.data[4 * i + 2] = img.data[3 * i + 2];
    rgba.data[4 * i + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(rgba, 0, 0);
}

/** Pixels of a drawable (image, bitmap, video frame) as RGB, the long side at most `max`. */
function toRgb(src: CanvasImageSource, width: number, height: number, max = 2048): Rgb {
  const s = Math.min(1, max / Math.max(width, height));
  const w = Math.max(1, Math.round(width * s));
  const h = Math.max(1, Math.round(height * s));
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(src, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    data[3 * i] = rgba[4 * i];
    data[3 * i + 1] = rgba[4 * i + 1];
    data[3 * i + 2] = rgba[4 * i + 2];
  }
  return { width: w, height: h, data };
}

const params = new URLSearchParams(location.search);
for (const [param, id] of [['cfg', 'cfg'], ['imgsz', 'imgsz'], ['batch', 'batch'], ['epochs', 'epochs'], ['train', 'train-images'], ['val', 'val-images']] as const) {
  const v = params.get(param);
  if (v === null) continue;
  const el = $<HTMLInputElement | HTMLSelectElement>(id);
  if (el instanceof HTMLSelectElement && !Array.from({ length: el.options.length }, (_, i) => el.options[i].value).includes(v)) el.add(new Option(v, v));
  el.value = v;
}
if (params.get('imgsz')) $<HTMLSelectElement>('detect-imgsz').value = params.get('imgsz')!;

function settings(): RunSettings {
  const num = (id: string, min: number, max: number): number => {
    const v = Number($<HTMLInputElement>(id).value);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${id}: expected an integer in ${min}..${max}, got '${$<HTMLInputElement>(id).value}'`);
    return v;
  };
  return {
    cfg: $<HTMLSelectElement>('cfg').value,
    imgsz: Number($<HTMLSelectElement>('imgsz').value),
    batch: num('batch', 1, 64),
    epochs: num('epochs', 1, 1000),
    trainImages: num('train-images', 1, 100_000),
    valImages: num('val-images', 1, 10_000),
    seed: Number(params.get('seed') ?? 0),
    maxSteps: Number(params.get('steps') ?? 0),
    userData: $<HTMLSelectElement>('data').value === 'user',
    finetune: $<HTMLInputElement>('finetune').checked,
  };
}

/** Every file under a dropped directory entry, with its path inside the drop. */
async function walkEntry(entry: FileSystemEntry, out: FolderFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    out.push({ path: entry.fullPath.replace(/^\//, ''), file });
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
      if (batch.length === 0) break;
      for (const e of batch) await walkEntry(e, out);
    }
  }
}

const lossChart = new LineChart($<HTMLCanvasElement>('loss-chart'), 'training loss per step', [
  { name: 'box', color: '#e8684a' },
  { name: 'cls', color: '#5b8fd9' },
  { name: 'dfl', color: '#5ad8a6' },
], 'iteration');
const mapChart = new LineChart($<HTMLCanvasElement>('map-chart'), 'validation (EMA model) per epoch', [
  { name: 'mAP@.5', color: '#f6bd16' },
  { name: 'mAP@.5:.95', color: '#e86452' },
], 'epoch');

if (!('gpu' in navigator) || !navigator.gpu) {
  fatal('WebGPU is not available in this browser (navigator.gpu is missing). Use a recent Chrome or Edge (or Firefox/Safari with WebGPU enabled), over https or http://localhost.');
} else {
  startWorker();
}

function startWorker(): void {
  let worker: Worker;
  try {
    worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'gelan-webgpu engine' });
  } catch (e) {
    fatal(`could not start the engine worker: ${(e as Error).message}`);
    return;
  }
  const send = (m: ToWorker, transfer: Transferable[] = []): void => worker.postMessage(m, transfer);
  worker.onerror = (e) => fatal(`engine worker failed: ${e.message || 'could not load dist/browser/demo/worker.js (run npm run build)'}`);
  let names: readonly string[] = [];
  let detectId = 0;
  let lastImage: Rgb | null = null;
  const buttons = (s: RunState): void => {
    $<HTMLButtonElement>('start').disabled = s === 'training' || s === 'pausing' || s === 'starting';
    $<HTMLButtonElement>('pause').disabled = s !== 'training';
    $<HTMLButtonElement>('resume').disabled = s !== 'paused';
    $<HTMLButtonElement>('bench-run').disabled = s === 'training' || s === 'pausing' || s === 'starting';
    $<HTMLButtonElement>('save-checkpoint').disabled = s !== 'paused' && s !== 'done';
  };
  const note = (about: string, message: string): void => {
    demo.notes.push(`${about}: ${message}`);
    const el = $('log');
    el.textContent += `${about}: ${message}\n`;
  };

  worker.onmessage = (ev: MessageEvent<FromWorker>) => {
    const m = ev.data;
    switch (m.type) {
      case 'device': {
        demo.device = m.device;
        const a = m.device.adapter;
        const f = m.device.features;
        const l = m.device.limits;
        $('device').textContent =
          `adapter: ${[a.vendor, a.architecture, a.description || a.device].filter(Boolean).join(' · ') || '(no adapter info)'} — ` +
          `shader-f16 ${f.f16 ? 'yes' : 'no (f32 kernels)'}, subgroups ${f.subgroups ? `yes (≥${m.device.subgroupMinSize})` : 'no'}, timestamp-query ${f.timestampQuery ? 'yes' : 'no'}; ` +
          `${l.maxComputeInvocationsPerWorkgroup} invocations/workgroup, ${l.maxStorageBuffersPerShaderStage} storage buffers/stage, max binding ${(l.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`;
        demo.ready = true;
        break;
      }
      case 'fatal':
        fatal(m.message);
        break;
      case 'error':
        logError(m.about, m.message);
        if (m.about === 'detect') stopLive();
        if (m.about === 'bench') $<HTMLButtonElement>('bench-run').disabled = false;
        break;
      case 'state':
        demo.state = m.state;
        demo.steps = m.steps;
        buttons(m.state);
        $('status').textContent = `${m.state}${m.steps ? ` · ${m.steps} steps` : ''}`;
        break;
      case 'model':
        names = m.names;
        demo.model = m.source;
        demo.parameters = m.parameters;
        $('model-info').textContent = `${m.origin === 'loaded' ? 'loaded' : 'training'}: ${m.source} — ${m.parameters.toLocaleString('en-US')} parameters, ${m.gflops.toFixed(2)} GFLOPs${m.origin === 'loaded' ? ' at 640' : ''}; classes: ${m.names.join(', ')}`;
        if (m.origin === 'loaded') $<HTMLInputElement>('finetune').disabled = false;
        $<HTMLButtonElement>('save').disabled = false;
        if (lastImage) detect(lastImage);
        break;
      case 'step': {
        demo.losses.push([m.iteration, ...m.items, m.imagesPerSecond]);
        m.items.forEach((v, i) => lossChart.add(['box', 'cls', 'dfl'][i], m.iteration, v));
        const recent = demo.losses.slice(-10).slice(demo.losses.length > 1 ? 1 : 0);
        const ips = recent.reduce((s, r) => s + r[4], 0) / Math.max(recent.length, 1);
        $('progress').textContent = `epoch ${m.epoch + 1}/${m.epochs} · batch ${m.batch + 1}/${m.batches} · loss box ${m.items[0].toFixed(3)} cls ${m.items[1].toFixed(3)} dfl ${m.items[2].toFixed(3)} · ${ips.toFixed(1)} images/s · lr ${m.lr.toExponential(2)}`;
        break;
      }
      case 'epoch': {
        demo.epochs.push({ epoch: m.epoch, train: m.train, map50: m.val?.map50 ?? null, map: m.val?.map ?? null, seconds: m.seconds });
        if (m.val) {
          mapChart.add('mAP@.5', m.epoch + 1, m.val.map50);
          mapChart.add('mAP@.5:.95', m.epoch + 1, m.val.map);
        }
        const row = document.createElement('tr');
        const cells = [m.epoch + 1, ...m.train.map((v) => v.toFixed(3)), ...(m.val ? [m.val.mp, m.val.mr, m.val.map50, m.val.map].map((v) => v.toFixed(3)) : ['–', '–', '–', '–']), m.seconds.toFixed(1)];
        for (const c of cells) row.appendChild(document.createElement('td')).textContent = String(c);
        $('epochs-table').querySelector('tbody')!.appendChild(row);
        break;
      }
      case 'predictions': {
        demo.predictionRounds++;
        const box = $('preds');
        box.replaceChildren();
        $('preds-epoch').textContent = m.epoch < 0 ? '(before training)' : `(EMA model after epoch ${m.epoch + 1}; conf ≥ 0.25; labels in grey)`;
          for (const p of m.images) {
          const c = document.createElement('canvas');
          paint(c, annotate(greyLabels(p.image, p.labels), p.boxes, names));
          c.style.width = `${Math.max(160, p.image.width * 2)}px`;
          box.appendChild(c);
        }
        break;
      }
      case 'note':
        note(m.about, m.message);
        break;
      case 'dataset': {
        demo.dataset = { name: m.name, source: m.source, names: m.names, train: m.train, val: m.val, warnings: m.warnings, thumbnails: m.thumbnails.length };
        $('data-info').textContent = m.source;
        for (const w of m.warnings) note('dataset', w);
        const head = $('data-table').querySelector('thead')!;
        head.replaceChildren();
        const hr = head.appendChild(document.createElement('tr'));
        for (const c of ['split', 'images', 'unlabelled', 'boxes', ...m.names]) hr.appendChild(document.createElement('th')).textContent = c;
        const body = $('data-table').querySelector('tbody')!;
        body.replaceChildren();
        for (const [split, st] of [['train', m.train], ['val', m.val]] as const) {
          const row = body.appendChild(document.createElement('tr'));
          for (const c of [split, st.images, st.background, st.boxes, ...m.names.map((_, i) => st.perClass[i] ?? 0)]) row.appendChild(document.createElement('td')).textContent = String(c);
        }
        const thumbs = $('data-thumbs');
        thumbs.replaceChildren();
        for (const t of m.thumbnails) {
          const c = document.createElement('canvas');
          paint(c, annotate(t.image, t.labels.map(([k, x1, y1, x2, y2]) => [x1, y1, x2, y2, NaN, k] as Box), m.names));
          thumbs.appendChild(c);
        }
        const userOpt = $<HTMLSelectElement>('data').querySelector<HTMLOptionElement>('option[value=user]')!;
        userOpt.disabled = false;
        userOpt.textContent = `loaded: ${m.name}`;
        $<HTMLSelectElement>('data').value = 'user';
        break;
      }
      case 'detections': {
        if (live && m.id === detectId) liveFrame();
        if (m.id !== detectId || !lastImage) break;
        demo.detections = { boxes: m.boxes, ms: m.ms, width: lastImage.width, height: lastImage.height };
        paint($<HTMLCanvasElement>('detect-canvas'), annotate(lastImage, m.boxes, m.names));
        const counts = new Map<string, number>();
        for (const b of m.boxes) counts.set(m.names[b[5]] ?? String(b[5]), (counts.get(m.names[b[5]] ?? String(b[5])) ?? 0) + 1);
        $('detect-info').textContent = `${lastImage.width}×${lastImage.height}: ${[...counts].map(([n, c]) => `${c} ${n}`).join(', ') || 'no detections'} (${m.ms.toFixed(0)} ms)`;
        break;
      }
      case 'weights': {
        if (m.kind === 'weights') demo.saved = { name: m.name, bytes: m.bytes.byteLength };
        else note('checkpoint', `${m.name} (${(m.bytes.byteLength / 2 ** 20).toFixed(1)} MiB): continue it here, or in Node with gelan train --resume ${m.name}`);
        const url = URL.createObjectURL(new Blob([m.bytes as BlobPart], { type: 'application/octet-stream' }));
        const a = document.createElement('a');
        a.href = url;
        a.download = m.name;
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        break;
      }
      case 'benchLine':
        $('bench-log').textContent = m.text;
        break;
      case 'benchDone': {
        demo.bench = { adapter: m.adapter, peakGflops: m.peakGflops, rows: [...m.rows] };
        $('bench-log').textContent = `${m.adapter}: measured peak ${m.peakGflops.toFixed(1)} GFLOP/s; ms are medians (GPU timestamps where available, else wall time with an explicit read-back sync)`;
        const body = $('bench-table').querySelector('tbody')!;
        body.replaceChildren();
        for (const r of m.rows) {
          const row = document.createElement('tr');
          const cells = [r.name, r.median_ms.toFixed(2), r.timing, r.gflops.toFixed(2), `${((100 * r.gflops) / m.peakGflops).toFixed(1)} %`, String(r.samples)];
          cells.forEach((c, i) => {
            const td = row.appendChild(document.createElement('td'));
            td.textContent = c;
            if (i === 0) td.style.textAlign = 'left';
          });
          body.appendChild(row);
        }
        $<HTMLButtonElement>('bench-run').disabled = false;
        break;
      }
      case 'disposed':
        break;
    }
  };

  function detect(img: Rgb): void {
    lastImage = img;
    const conf = Number($<HTMLInputElement>('conf').value);
    const copy = { width: img.width, height: img.height, data: img.data.slice() };
    send({ type: 'detect', id: ++detectId, image: copy, conf: Number.isFinite(conf) && conf > 0 ? conf : 0.25, imgsz: Number($<HTMLSelectElement>('detect-imgsz').value) }, [copy.data.buffer]);
  }

  async function detectFile(file: File): Promise<void> {
    try {
      const bmp = await createImageBitmap(file);
      detect(toRgb(bmp, bmp.width, bmp.height));
      bmp.close();
    } catch (e) {
      logError('image', `${file.name}: ${(e as Error).message || 'not an image this browser can decode'}`);
    }
  }

  $('start').onclick = () => {
    try {
      const s = settings();
      lossChart.clear();
      mapChart.clear();
      demo.losses = [];
      demo.epochs = [];
      $('epochs-table').querySelector('tbody')!.replaceChildren();
      send({ type: 'train', settings: s });
    } catch (e) {
      logError('settings', (e as Error).message);
    }
  };
  $('pause').onclick = () => send({ type: 'pause' });
  $('bench-run').onclick = () => {
    $<HTMLButtonElement>('bench-run').disabled = true;
    $('bench-log').textContent = 'measuring the device peak…';
    send({ type: 'bench', filter: $<HTMLInputElement>('bench-filter').value.trim(), quick: $<HTMLInputElement>('bench-quick').checked });
  };
  $('resume').onclick = () => send({ type: 'resume', maxSteps: 0 });
  $('save').onclick = () => send({ type: 'saveWeights', removeAux: $<HTMLInputElement>('remove-aux').checked });
  $<HTMLInputElement>('image-input').onchange = (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void detectFile(f);
  };
  $<HTMLInputElement>('weights-input').onchange = async (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    const bytes = new Uint8Array(await f.arrayBuffer());
    send({ type: 'loadWeights', name: f.name, bytes }, [bytes.buffer]);
  };
  const drop = $('drop');
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add('over');
  };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void detectFile(f);
  };
  // The live loop: one frame in flight at a time (the next is grabbed when the last one's boxes are back), so it
  // runs as fast as detection allows and never queues frames behind a slow device.
  let live: { video: HTMLVideoElement; t0: number; frames: number; times: number[]; source: string } | null = null;
  const liveState = (running: boolean): void => {
    if (!live) return;
    const t = live.times;
    const fps = t.length > 1 ? ((t.length - 1) * 1000) / (t[t.length - 1] - t[0]) : 0;
    demo.live = { running, frames: live.frames, fps, source: live.source };
    $('live-info').textContent = `live (${live.source}): ${live.frames} frames, ${fps.toFixed(1)} frames/s`;
  };
  const stopLive = (): void => {
    if (!live) return;
    liveState(false);
    if (live.video.srcObject) (live.video.srcObject as MediaStream).getTracks().forEach((t) => t.stop());
    live.video.pause();
    live.video.srcObject = null;
    live = null;
    $<HTMLButtonElement>('live-stop').disabled = true;
  };
  function liveNext(): void {
    if (!live) return;
    const v = live.video;
    if (v.ended) return stopLive();
    if (v.readyState < 2 || v.videoWidth === 0) {
      setTimeout(liveNext, 20);
      return;
    }
    detect(toRgb(v, v.videoWidth, v.videoHeight, 640));
  }
  function liveFrame(): void {
    if (!live) return;
    live.frames++;
    live.times.push(performance.now());
    if (live.times.length > 30) live.times.shift();
    liveState(true);
    requestAnimationFrame(liveNext);
  }
  async function startLive(video: HTMLVideoElement, source: string): Promise<void> {
    await video.play();
    live = { video, t0: performance.now(), frames: 0, times: [], source };
    $<HTMLButtonElement>('live-stop').disabled = false;
    liveNext();
  }
  $('live').onclick = async () => {
    stopLive();
    const video = $<HTMLVideoElement>('video');
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw new Error('this page has no camera access (needs https or localhost and a camera)');
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
      await startLive(video, 'camera');
    } catch (e) {
      logError('camera', (e as Error).message);
    }
  };
  $<HTMLInputElement>('video-input').onchange = async (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    stopLive();
    const video = $<HTMLVideoElement>('video');
    video.srcObject = null;
    video.src = URL.createObjectURL(f);
    video.muted = true;
    try {
      await startLive(video, f.name);
    } catch (err) {
      logError('video', `${f.name}: ${(err as Error).message || 'this browser cannot play it'}`);
    }
  };
  $('live-stop').onclick = () => stopLive();

  // datasets: a zip or a folder, picked or dropped; the worker reads them (File objects are passed, not copied)
  const sendDataset = (name: string, zip?: File, files?: FolderFile[]): void => {
    $('data-info').textContent = `reading ${name}…`;
    send({ type: 'dataset', name, zip, files });
  };
  $<HTMLInputElement>('data-zip').onchange = (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) sendDataset(f.name, f);
  };
  $<HTMLInputElement>('data-folder').onchange = (e) => {
    const list = Array.from((e.target as HTMLInputElement).files ?? []);
    if (list.length === 0) return;
    const top = list[0].webkitRelativePath.split('/')[0] || 'folder';
    sendDataset(top, undefined, list.map((f) => ({ path: f.webkitRelativePath || f.name, file: f })));
  };
  const dataDrop = $('data-drop');
  dataDrop.ondragover = (e) => {
    e.preventDefault();
    dataDrop.classList.add('over');
  };
  dataDrop.ondragleave = () => dataDrop.classList.remove('over');
  dataDrop.ondrop = async (e) => {
    e.preventDefault();
    dataDrop.classList.remove('over');
    const items = Array.from(e.dataTransfer?.items ?? []);
    const entries = items.map((it) => it.webkitGetAsEntry()).filter((x): x is FileSystemEntry => x !== null);
    const zip = Array.from(e.dataTransfer?.files ?? []).find((f) => /\.zip$/i.test(f.name));
    if (zip && !entries.some((en) => en.isDirectory)) return sendDataset(zip.name, zip);
    const files: FolderFile[] = [];
    try {
      for (const en of entries) await walkEntry(en, files);
    } catch (err) {
      return logError('dataset', (err as Error).message);
    }
    sendDataset(entries.length === 1 ? entries[0].name : 'dropped files', undefined, files);
  };
  $('save-checkpoint').onclick = () => send({ type: 'saveCheckpoint' });
  $<HTMLInputElement>('checkpoint-input').onchange = async (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    const bytes = new Uint8Array(await f.arrayBuffer());
    lossChart.clear();
    mapChart.clear();
    demo.losses = [];
    demo.epochs = [];
    $('epochs-table').querySelector('tbody')!.replaceChildren();
    send({ type: 'resumeCheckpoint', name: f.name, bytes, maxSteps: Number(params.get('steps') ?? 0) }, [bytes.buffer]);
  };

  $('camera').onclick = async () => {
    const video = $<HTMLVideoElement>('video');
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw new Error('this page has no camera access (needs https or localhost and a camera)');
      if (!video.srcObject) {
        video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
        await video.play();
      }
      detect(toRgb(video, video.videoWidth, video.videoHeight));
    } catch (e) {
      logError('camera', (e as Error).message);
    }
  };
  window.addEventListener('pagehide', () => send({ type: 'dispose' }));
  if (params.get('autostart') === '1') {
    const go = (): void => {
      if (demo.ready) $('start').click();
      else if (!demo.fatal) setTimeout(go, 50);
    };
    go();
  }
}

/** The image with its labels drawn as thin grey boxes (no text), under the predictions. */
function greyLabels(img: Rgb, labels: readonly LabelBox[]): Rgb {
  const out = { width: img.width, height: img.height, data: img.data.slice() };
  const grey = [200, 200, 200];
  const put = (x: number, y: number): void => {
    if (x < 0 || y < 0 || x >= out.width || y >= out.height) return;
    out.data.set(grey, (y * out.width + x) * 3);
  };
  for (const [, x1, y1, x2, y2] of labels) {
    const [a, b, c, d] = [x1, y1, x2, y2].map(Math.round);
    for (let x = a; x <= c; x += 2) {
      put(x, b);
      put(x, d);
    }
    for (let y = b; y <= d; y += 2) {
      put(a, y);
      put(c, y);
    }
  }
  return out;
}
