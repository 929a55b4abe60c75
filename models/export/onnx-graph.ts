// Building an ONNX graph node by node: unique value names, initializers, deduplicated integer/float constants,
// and the few ops whose signature changed across opsets (attributes that became inputs).
import { f32ToF16 } from '../../engine/half';
import { type OnnxAttr, type OnnxData, type OnnxElem, type OnnxGraphSpec, type OnnxNodeSpec, type OnnxTensorData, type OnnxValueInfo, onnxElemType } from './onnx-proto';

export class OnnxGraphBuilder {
  private readonly nodes: OnnxNodeSpec[] = [];
  private readonly inits: OnnxTensorData[] = [];
  private readonly consts = new Map<string, string>();
  private readonly used = new Set<string>();

  constructor(readonly opset: number) {}

  /** A value name not used before (`base`, `base_1`, …). */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Add a node; returns its output names (`outputs` of them, named after `name` or the op). */
  op(op: string, inputs: readonly string[], attrs: Readonly<Record<string, OnnxAttr>> = {}, outputs = 1, name?: string): string[] {
    const base = name ?? op;
    const outs = Array.from({ length: outputs }, (_, k) => this.fresh(outputs === 1 ? base : `${base}_out${k}`));
    this.nodes.push({ op, inputs, outputs: outs, attrs, name: this.fresh(`${base}_node`) });
    return outs;
  }

  /** One-output node. */
  op1(op: string, inputs: readonly string[], attrs: Readonly<Record<string, OnnxAttr>> = {}, name?: string): string {
    return this.op(op, inputs, attrs, 1, name)[0];
  }

  /** Name a value as a graph output (an Identity node, so the name is exact). */
  output(value: string, name: string): void {
    this.used.add(name);
    this.nodes.push({ op: 'Identity', inputs: [value], outputs: [name], name: this.fresh(`${name}_node`) });
  }

  initializer(name: string, elem: OnnxElem, dims: readonly number[], data: OnnxData): string {
    const n = this.fresh(name);
    this.inits.push({ name: n, elem, dims, data });
    return n;
  }

  /** Float weights stored as f32 or f16. */
  weights(name: string, dims: readonly number[], values: Float32Array, elem: 'f32' | 'f16'): string {
    return this.initializer(name, elem, dims, elem === 'f16' ? f32ToF16(values) : values);
  }

  /** An int64 constant (shared by every use of the same values and dims; `[]` dims = scalar). */
  i64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    let n = this.consts.get(key);
    if (!n) {
      n = this.initializer(`const_i64_${values.slice(0, 4).join('_').replace(/-/g, 'm')}`, 'i64', dims, BigInt64Array.from(values, (v) => BigInt(v)));
      this.consts.set(key, n);
    }
    return n;
  }

  /** A float constant in the given element type. */
  float(values: readonly number[], dims: readonly number[] = [values.length], elem: 'f32' | 'f16' = 'f32'): string {
    const key = `${elem}:${dims.join('x')}:${values.join(',')}`;
    let n = this.consts.get(key);
    if (!n) {
      n = this.weights(`const_${elem}`, dims, Float32Array.from(values), elem);
      this.consts.set(key, n);
    }
    return n;
  }

  cast(x: string, to: OnnxElem): string {
    return this.op1('Cast', [x], { to: onnxElemType(to) });
  }

  /** ReduceSum/ReduceMax/…: `axes` is an input from opset 18 (ReduceSum: 13), an attribute before. */
  reduce(op: 'ReduceSum' | 'ReduceMax', x: string, axes: readonly number[], keepdims: boolean): string {
    const asInput = op === 'ReduceSum' ? this.opset >= 13 : this.opset >= 18;
    return asInput ? this.op1(op, [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 }) : this.op1(op, [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    return this.op1('Unsqueeze', [x, this.i64(axes)]);
  }

  /** Elements [start, end) of `axis`. */
  slice(x: string, axis: number, start: number, end: number): string {
    return this.op1('Slice', [x, this.i64([start]), this.i64([end]), this.i64([axis])]);
  }

  /** Split along `axis` into the given sizes. */
  split(x: string, axis: number, sizes: readonly number[]): string[] {
    return this.op('Split', [x, this.i64(sizes)], { axis }, sizes.length);
  }

  /** Dimension `axis` of `x` as an int64 scalar. */
  dim(x: string, axis: number): string {
    return this.op1('Gather', [this.op1('Shape', [x]), this.i64([axis], [])], { axis: 0 });
  }

  graph(name: string, inputs: readonly OnnxValueInfo[], outputs: readonly OnnxValueInfo[]): OnnxGraphSpec {
    return { name, nodes: this.nodes, inputs, outputs, initializers: this.inits };
  }
}
