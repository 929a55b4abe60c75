// Embedding gelan-webgpu in a WebGPU application that owns its GPUDevice.
//
// The page creates its own device (navigator.gpu), hands it to the engine with createDevice({ device }), computes
// an image with the engine (conv2d + sigmoid), draws it with its own render pass on the same device, then disposes
// the engine and draws again: a host-owned device is never destroyed by the engine, only the engine's buffers are.
//
// Build: `npm run build` writes dist/browser/gelan-webgpu.js and this file as dist/browser/embed/main.js; serve the
// checkout over http://localhost (WebGPU needs a secure context) and open /web/embed/.
import { conv2d, createDevice, sigmoid, tensor, tidy } from 'gelan-webgpu';
import { HEIGHT, WIDTH, exampleInput, exampleWeights, toRgba8 } from './pattern';

/** Canvas pixels per texel. */
const SCALE = 4;

export interface EmbedReport {
  ok: boolean;
  error?: string;
  adapter: string;
  canvasFormat: GPUTextureFormat;
  width: number;
  height: number;
  scale: number;
  /** The engine's Device after dispose(), and whether it then refused new work. */
  engineDisposed: boolean;
  engineRefusesWork: boolean;
  /** Whether the host's GPUDevice was lost at the end (it must not be). */
  hostDeviceLost: boolean;
  computeMs: number;
}

declare global {
  interface Window {
    embedReport?: EmbedReport;
  }
}

const statusEl = document.querySelector('#status')!;
const say = (line: string): void => void (statusEl.textContent += `${line}\n`);

const SHADER = /* wgsl */ `
struct View { origin: vec2f, size: vec2f, invert: f32 }
@group(0) @binding(0) var img: texture_2d<f32>;
@group(0) @binding(1) var<uniform> view: View;

@vertex fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  var corners = array<vec2f, 3>(vec2f(-1.0, -1.0), vec2f(3.0, -1.0), vec2f(-1.0, 3.0));
  return vec4f(corners[i], 0.0, 1.0);
}

// One texel per SCALE x SCALE pixel block of the viewport; 'invert' shows the second frame differs.
@fragment fn fs(@builtin(position) pos: vec4f) -> @location(0) vec4f {
  let dims = vec2f(textureDimensions(img));
  let uv = (pos.xy - view.origin) / view.size;
  let c = textureLoad(img, vec2i(clamp(floor(uv * dims), vec2f(0.0), dims - 1.0)), 0);
  return select(c, vec4f(1.0 - c.rgb, 1.0), view.invert > 0.5);
}`;

interface Panel {
  x: number;
  invert: boolean;
}

/** The host application's renderer: draws `texture` into panels of the canvas with its own pipeline. */
function makeRenderer(device: GPUDevice, format: GPUTextureFormat, texture: GPUTexture): (ctx: GPUCanvasContext, panels: Panel[]) => void {
  const module = device.createShaderModule({ code: SHADER, label: 'embed view' });
  const pipeline = device.createRenderPipeline({
    layout: 'auto',
    vertex: { module, entryPoint: 'vs' },
    fragment: { module, entryPoint: 'fs', targets: [{ format }] },
    primitive: { topology: 'triangle-list' },
    label: 'embed view',
  });
  const view = texture.createView();
  const slots = [0, 1].map(() => {
    const uniform = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: view }, { binding: 1, resource: { buffer: uniform } }],
    });
    return { uniform, bindGroup };
  });
  const w = texture.width * SCALE;
  const h = texture.height * SCALE;
  return (ctx, panels) => {
    const encoder = device.createCommandEncoder({ label: 'embed frame' });
    const pass = encoder.beginRenderPass({
      colorAttachments: [{ view: ctx.getCurrentTexture().createView(), loadOp: 'clear', storeOp: 'store', clearValue: { r: 0.1, g: 0.1, b: 0.1, a: 1 } }],
    });
    pass.setPipeline(pipeline);
    panels.forEach((p, i) => {
      device.queue.writeBuffer(slots[i].uniform, 0, new Float32Array([p.x, 0, w, h, p.invert ? 1 : 0, 0, 0, 0]));
      pass.setViewport(p.x, 0, w, h, 0, 1);
      pass.setBindGroup(0, slots[i].bindGroup);
      pass.draw(3);
    });
    pass.end();
    device.queue.submit([encoder.finish()]);
  };
}

async function main(): Promise<EmbedReport> {
  if (!navigator.gpu) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  // The application's own device. The engine's kernels use up to 10 storage buffers per shader stage and 256
  // invocations per workgroup, more than WebGPU's default limits: ask for what the adapter allows.
  const L = adapter.limits;
  const device = await adapter.requestDevice({
    label: 'host application',
    requiredLimits: {
      maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
      maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
      maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
      maxBufferSize: L.maxBufferSize,
    },
  });
  let hostDeviceLost = false;
  void device.lost.then((info) => {
    hostDeviceLost = true;
    say(`host device lost: ${info.reason} ${info.message}`);
  });

  // 1. The engine on the host's device (it will not create or destroy a device).
  const engine = await createDevice({ device });
  const adapterName = `${engine.adapter.vendor} ${engine.adapter.architecture} ${engine.adapter.description}`.trim();
  say(`engine on the page's GPUDevice (${adapterName || 'unknown adapter'})`);

  // 2. An image-like tensor: sigmoid(conv2d(x, w, b)), shape (1, 3, H, W).
  const t0 = performance.now();
  const { weight, bias } = exampleWeights();
  const rgb = tidy(engine, () => {
    const x = tensor(engine, exampleInput(), [1, 2, HEIGHT, WIDTH]);
    const w = tensor(engine, weight, [3, 2, 3, 3]);
    const b = tensor(engine, bias, [3]);
    return sigmoid(conv2d(x, w, b, { padding: 1 }));
  });
  // There is no public accessor for a tensor's GPUBuffer yet, so the pixels go through the host: read back,
  // pack as RGBA8, upload to a texture the application owns.
  const planes = await rgb.data();
  rgb.dispose();
  const computeMs = performance.now() - t0;
  say(`conv2d + sigmoid -> (1, 3, ${HEIGHT}, ${WIDTH}) in ${computeMs.toFixed(1)} ms`);
  const texture = device.createTexture({ size: [WIDTH, HEIGHT], format: 'rgba8unorm', usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST });
  device.queue.writeTexture({ texture }, toRgba8(planes), { bytesPerRow: 4 * WIDTH }, [WIDTH, HEIGHT]);

  // 3. The application's own render pass on the same device.
  const canvas = document.querySelector<HTMLCanvasElement>('#view')!;
  canvas.width = 2 * WIDTH * SCALE;
  canvas.height = HEIGHT * SCALE;
  canvas.style.width = `${canvas.width}px`;
  canvas.style.height = `${canvas.height}px`;
  const context = canvas.getContext('webgpu')!;
  const canvasFormat = navigator.gpu.getPreferredCanvasFormat();
  context.configure({ device, format: canvasFormat, alphaMode: 'opaque' });
  const draw = makeRenderer(device, canvasFormat, texture);
  draw(context, [{ x: 0, invert: false }]);
  await device.queue.onSubmittedWorkDone();
  say('frame 1: the engine output drawn by the page (left)');

  // 4. Dispose the engine: its buffers go, the host's device and resources stay.
  engine.dispose();
  let engineRefusesWork = false;
  try {
    tensor(engine, [1], [1]).dispose();
  } catch {
    engineRefusesWork = true;
  }
  say(`engine disposed (${engineRefusesWork ? 'it now refuses work' : 'it still accepted work!'})`);
  draw(context, [{ x: 0, invert: false }, { x: WIDTH * SCALE, invert: true }]);
  await device.queue.onSubmittedWorkDone();
  say('frame 2, after dispose: the host device still renders (right: inverted)');
  return {
    ok: !hostDeviceLost && engineRefusesWork && engine.isDisposed,
    adapter: adapterName,
    canvasFormat,
    width: WIDTH,
    height: HEIGHT,
    scale: SCALE,
    engineDisposed: engine.isDisposed,
    engineRefusesWork,
    hostDeviceLost,
    computeMs,
  };
}

main().then(
  (report) => {
    window.embedReport = report;
    document.body.dataset.state = report.ok ? 'done' : 'failed';
  },
  (e: unknown) => {
    const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    say(`error: ${error}`);
    window.embedReport = { ok: false, error } as EmbedReport;
    document.body.dataset.state = 'failed';
  },
);
