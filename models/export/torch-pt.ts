// A checkpoint in the official YOLOv9 layout, written without Python: torch.save of {'model': DetectionModel,
// 'optimizer': None, …, 'epoch': -1} as the official converted files, the model an fp16 pickled nn.Module tree
// whose classes are the official ones (models.yolo / models.common / torch.nn) and whose attribute dicts hold
// what their constructors would have set, so detect.py, val.py and train.py --weights load it unmodified.
import type { HostTensor } from '../io/dtypes';
import { fromFloat32, toFloat32 } from '../io/dtypes';
import { type PyGlobalRef, type PyValue, call, dict, newObj, orderedDict, pyFloat, pyGlobal, tuple } from '../io/pickle-writer';
import { TorchArchive } from '../io/torch-save';
import type { Module } from '../module';
import { type Activation, BatchNorm2d, Conv, Conv2d } from '../layers';
import { ADown, AConv, CBFuse, CBLinear, Concat, ELAN1, RepConvN, RepNBottleneck, RepNCSP, RepNCSPELAN4, SPPELAN, Sequential, Silence, Upsample } from '../blocks';
import { DDetect, DFL, DualDDetect, REG_MAX } from '../heads';
import { stateDict } from '../weights';
import type { DetectionModel } from '../yolo';

/** What exportTorchCheckpoint records besides the weights: class names and the source file for messages. */
export interface TorchExportOptions {
  /** Class names stored as model.names (default '0', '1', …). */
  readonly names?: readonly string[];
  /** Names the model in error messages. */
  readonly source?: string;
}

const common = (name: string): PyGlobalRef => pyGlobal('models.common', name);
const yolo = (name: string): PyGlobalRef => pyGlobal('models.yolo', name);
const nn = (file: string, name: string): PyGlobalRef => pyGlobal(`torch.nn.modules.${file}`, name);
const pair = (v: number): PyValue => tuple(v, v);

interface ModuleSpec {
  readonly cls: PyGlobalRef;
  readonly attrs?: Record<string, PyValue>;
  /** Children in registration order. */
  readonly children?: readonly (readonly [string, ModuleSpec])[];
  readonly params?: readonly (readonly [string, PyValue | null])[];
  readonly buffers?: readonly (readonly [string, PyValue])[];
}

/** nn.Module's own attribute dict (torch 1.13) around the class-specific attributes. */
function moduleObject(s: ModuleSpec, training: boolean): PyValue {
  const kids = (s.children ?? []).map(([k, c]) => [k, moduleObject(c, training)] as const);
  return newObj(
    s.cls,
    dict({
      training,
      _parameters: orderedDict(s.params ?? []),
      _buffers: orderedDict(s.buffers ?? []),
      _non_persistent_buffers_set: call(pyGlobal('__builtin__', 'set'), []),
      _backward_hooks: orderedDict(),
      _is_full_backward_hook: null,
      _forward_hooks: orderedDict(),
      _forward_pre_hooks: orderedDict(),
      _state_dict_hooks: orderedDict(),
      _load_state_dict_pre_hooks: orderedDict(),
      _load_state_dict_post_hooks: orderedDict(),
      _modules: orderedDict(kids),
      ...s.attrs,
    }),
  );
}

/** The official class name string parse_model records as a row's `type`. */
const typeName = (g: PyGlobalRef): string => `${g.module}.${g.name}`;

class Describer {
  constructor(
    private readonly archive: TorchArchive,
    private readonly sd: ReadonlyMap<string, HostTensor>,
  ) {}

  /** A state tensor stored fp16 (floats) or as is (int64), as a parameter or a buffer. */
  private tensor(key: string, asParam: boolean, requiresGrad = true): PyValue {
    const t = this.sd.get(key);
    if (!t) throw new Error(`pt export: no tensor ${key}`);
    const h = t.dtype === 'I64' ? t : fromFloat32(t.shape, toFloat32(t), 'F16');
    return asParam ? this.archive.parameter(h, requiresGrad) : this.archive.tensor(h);
  }

  private act(a: Activation): ModuleSpec {
    if (a === 'silu') return { cls: nn('activation', 'SiLU'), attrs: { inplace: true } };
    if (a === 'relu') return { cls: nn('activation', 'ReLU'), attrs: { inplace: true } };
    return { cls: nn('linear', 'Identity') };
  }

  conv2d(c: Conv2d, p: string): ModuleSpec {
    const k = c.weight.shape[2];
    return {
      cls: nn('conv', 'Conv2d'),
      attrs: {
        in_channels: c.weight.shape[1] * c.groups, out_channels: c.weight.shape[0], kernel_size: pair(k), stride: pair(c.stride),
        padding: pair(c.padding), dilation: pair(c.dilation), transposed: false, output_padding: pair(0), groups: c.groups,
        padding_mode: 'zeros', _reversed_padding_repeated_twice: tuple(c.padding, c.padding, c.padding, c.padding),
      },
      params: [['weight', this.tensor(`${p}.weight`, true)], ['bias', c.bias ? this.tensor(`${p}.bias`, true) : null]],
    };
  }

  private bn(b: BatchNorm2d, p: string): ModuleSpec {
    return {
      cls: nn('batchnorm', 'BatchNorm2d'),
      attrs: { num_features: b.channels, eps: pyFloat(b.eps), momentum: pyFloat(b.momentum), affine: true, track_running_stats: true },
      params: [['weight', this.tensor(`${p}.weight`, true)], ['bias', this.tensor(`${p}.bias`, true)]],
      buffers: [['running_mean', this.tensor(`${p}.running_mean`, false)], ['running_var', this.tensor(`${p}.running_var`, false)], ['num_batches_tracked', this.tensor(`${p}.num_batches_tracked`, false)]],
    };
  }

  private kids(m: Module, p: string, names: readonly string[]): [string, ModuleSpec][] {
    return names.map((n) => [n, this.module(m.childModules.get(n)!, `${p}.${n}`)]);
  }

  private sp(): ModuleSpec {
    return {
      cls: common('SP'),
      children: [['m', { cls: nn('pooling', 'MaxPool2d'), attrs: { kernel_size: 5, stride: 1, padding: 2, dilation: 1, return_indices: false, ceil_mode: false } }]],
    };
  }

  private head(h: DDetect | DualDDetect, p: string): ModuleSpec {
    const towers = h instanceof DualDDetect ? ['cv2', 'cv3', 'cv4', 'cv5'] : ['cv2', 'cv3'];
    const dfls = h instanceof DualDDetect ? ['dfl', 'dfl2'] : ['dfl'];
    const tower = (name: string): ModuleSpec => {
      const t = h.childModules.get(name) as Sequential;
      return { cls: nn('container', 'ModuleList'), children: t.items.map((lvl, l) => [String(l), this.module(lvl, `${p}.${name}.${l}`)] as [string, ModuleSpec]) };
    };
    return {
      cls: yolo(h instanceof DualDDetect ? 'DualDDetect' : 'DDetect'),
      attrs: {
        nc: h.nc, nl: h.strides.length, reg_max: REG_MAX, no: h.nc + 4 * REG_MAX, inplace: true,
        // model.half() converts the head's stride/anchors/strides attributes too (BaseModel._apply)
        stride: this.archive.tensor(fromFloat32([h.strides.length], Float32Array.from(h.strides), 'F16')),
        anchors: this.archive.tensor(fromFloat32([0], new Float32Array(0), 'F16')),
        strides: this.archive.tensor(fromFloat32([0], new Float32Array(0), 'F16')),
      },
      children: [...towers.map((n) => [n, tower(n)] as [string, ModuleSpec]), ...dfls.map((n) => [n, this.module(h.childModules.get(n)!, `${p}.${n}`)] as [string, ModuleSpec])],
    };
  }

  module(m: Module, p: string): ModuleSpec {
    if (m instanceof Conv) {
      if (!m.bn) throw new Error('pt export: the official checkpoints are unfused, export the model before fusing it');
      return { cls: common('Conv'), children: [['conv', this.conv2d(m.conv, `${p}.conv`)], ['bn', this.bn(m.bn, `${p}.bn`)], ['act', this.act(m.activation)]] };
    }
    if (m instanceof Conv2d) return this.conv2d(m, p);
    if (m instanceof RepConvN) {
      if (!m.conv1 || !m.conv2) throw new Error('pt export: the official checkpoints are unfused, export the model before fusing it');
      const c = m.conv1.conv;
      return {
        cls: common('RepConvN'),
        attrs: { g: c.groups, c1: c.weight.shape[1] * c.groups, c2: c.weight.shape[0], bn: null },
        children: [['act', this.act(m.act)], ...this.kids(m, p, ['conv1', 'conv2'])],
      };
    }
    if (m instanceof RepNBottleneck) return { cls: common('RepNBottleneck'), attrs: { add: m.add }, children: this.kids(m, p, ['cv1', 'cv2']) };
    if (m instanceof RepNCSP) return { cls: common('RepNCSP'), children: this.kids(m, p, ['cv1', 'cv2', 'cv3', 'm']) };
    if (m instanceof RepNCSPELAN4 || m instanceof ELAN1) {
      return { cls: common(m instanceof ELAN1 ? 'ELAN1' : 'RepNCSPELAN4'), attrs: { c: m.cv1.conv.weight.shape[0] / 2 }, children: this.kids(m, p, ['cv1', 'cv2', 'cv3', 'cv4']) };
    }
    if (m instanceof AConv) return { cls: common('AConv'), children: this.kids(m, p, ['cv1']) };
    if (m instanceof ADown) return { cls: common('ADown'), attrs: { c: m.cv1.conv.weight.shape[0] }, children: this.kids(m, p, ['cv1', 'cv2']) };
    if (m instanceof SPPELAN) {
      return {
        cls: common('SPPELAN'),
        attrs: { c: m.cv1.conv.weight.shape[0] },
        children: [['cv1', this.module(m.cv1, `${p}.cv1`)], ['cv2', this.sp()], ['cv3', this.sp()], ['cv4', this.sp()], ['cv5', this.module(m.cv5, `${p}.cv5`)]],
      };
    }
    if (m instanceof Concat) return { cls: common('Concat'), attrs: { d: m.dim } };
    if (m instanceof Silence) return { cls: common('Silence') };
    if (m instanceof Upsample) {
      return { cls: nn('upsampling', 'Upsample'), attrs: { name: 'Upsample', size: null, scale_factor: pyFloat(m.scale), mode: 'nearest', align_corners: null, recompute_scale_factor: null } };
    }
    if (m instanceof CBLinear) return { cls: common('CBLinear'), attrs: { c2s: [...m.c2s] }, children: [['conv', this.conv2d(m.conv, `${p}.conv`)]] };
    if (m instanceof CBFuse) return { cls: common('CBFuse'), attrs: { idx: [...m.idx] } };
    if (m instanceof DDetect || m instanceof DualDDetect) return this.head(m, p);
    if (m instanceof DFL) {
      // a frozen 1×1 conv 16 → 1 without bias holding the bin values
      const conv: ModuleSpec = {
        cls: nn('conv', 'Conv2d'),
        attrs: {
          in_channels: REG_MAX, out_channels: 1, kernel_size: pair(1), stride: pair(1), padding: pair(0), dilation: pair(1), transposed: false,
          output_padding: pair(0), groups: 1, padding_mode: 'zeros', _reversed_padding_repeated_twice: tuple(0, 0, 0, 0),
        },
        params: [['weight', this.tensor(`${p}.conv.weight`, true, false)], ['bias', null]],
      };
      return { cls: yolo('DFL'), attrs: { c1: REG_MAX }, children: [['conv', conv]] };
    }
    if (m instanceof Sequential) return { cls: nn('container', 'Sequential'), children: m.items.map((b, i) => [String(i), this.module(b, `${p}.${i}`)] as [string, ModuleSpec]) };
    throw new Error(`pt export: no official class for ${m.constructor.name} at ${p}`);
  }
}

/** The yaml dict the official DetectionModel keeps: the yaml file as loaded (names such as 'nc' unevaluated), the
 * class count, and `ch`. */
function officialYaml(model: DetectionModel): PyValue {
  const toPy = (v: unknown, key?: string): PyValue => {
    if (Array.isArray(v)) return v.map((x) => toPy(x));
    if (v !== null && typeof v === 'object') return dict(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toPy(x, k)] as const));
    if (typeof v === 'number' && (key === 'depth_multiple' || key === 'width_multiple')) return pyFloat(v);
    return v as PyValue;
  };
  return toPy(JSON.parse(JSON.stringify({ ...model.config.raw, nc: model.nc, ch: model.inputChannels })) as unknown);
}

/** torch.save bytes of the official checkpoint dict for `model` (fp16 weights, unfused, eval-ready). */
export async function exportTorchCheckpoint(model: DetectionModel, opts: TorchExportOptions = {}): Promise<Uint8Array> {
  const source = opts.source ?? model.config.source;
  const names = opts.names ?? Array.from({ length: model.nc }, (_, i) => String(i));
  if (names.length !== model.nc) throw new Error(`${source}: ${names.length} class names for a model with ${model.nc} classes`);
  const sd = await stateDict(model);
  const archive = new TorchArchive();
  const d = new Describer(archive, sd);
  const save: number[] = [];
  const rows = model.rows.map((r, i) => {
    const spec = d.module(model.layers[i], `model.${i}`);
    const yamlFrom = model.config.rows[i].from;
    // parse_model's save list: every non-(-1) 'from' entry, taken modulo the row index
    for (const x of [yamlFrom].flat()) if (x !== -1) save.push(((x % i) + i) % i);
    // a repeated row (n > 1) is an nn.Sequential whose `type` names the repeated block
    const cls = r.n > 1 && spec.children?.[0]?.[1] ? spec.children[0][1].cls : spec.cls;
    return { ...spec, attrs: { ...spec.attrs, i, f: yamlFrom as PyValue, type: typeName(cls), np: r.params } };
  });
  const head = model.head;
  const stride = archive.tensor({ dtype: 'F32', shape: [head.strides.length], data: Float32Array.from(head.strides) });
  const top: ModuleSpec = {
    cls: yolo('DetectionModel'),
    attrs: { yaml: officialYaml(model), save: save.sort((a, b) => a - b), names: [...names], inplace: true, stride, nc: model.nc },
    children: [['model', { cls: nn('container', 'Sequential'), children: rows.map((r, i) => [String(i), r] as [string, ModuleSpec]) }]],
  };
  const ckpt = dict({
    model: moduleObject(top, true), // as train.py saves it (attempt_load switches to eval)
    optimizer: null,
    best_fitness: null,
    ema: null,
    updates: null,
    opt: null,
    git: null,
    date: null,
    epoch: -1,
  });
  return archive.save(ckpt);
}
