// The benchmark's few-op float32 graphs for onnxruntime-web, serialised by the library's ONNX writer
// (models/export/onnx-proto.ts: ONNX's generated protobuf types), IR 8, default-domain opset 17.
import { type OnnxTensorData, encodeOnnx } from '../../models/export/onnx-proto';

export type Attr = number | number[] | { f: number };

export interface OnnxNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, Attr>>;
}

export interface OnnxValue {
  readonly name: string;
  readonly dims: readonly number[];
}

export interface OnnxInitializer extends OnnxValue {
  /** float32 data, or int64 data given as numbers (Slice starts/ends/axes, Reshape shapes). */
  readonly data: Float32Array | { int64: readonly number[] };
}

export interface OnnxGraph {
  readonly nodes: readonly OnnxNode[];
  readonly inputs: readonly OnnxValue[];
  readonly outputs: readonly OnnxValue[];
  readonly initializers?: readonly OnnxInitializer[];
}

const tensorData = (t: OnnxInitializer): OnnxTensorData =>
  t.data instanceof Float32Array
    ? { name: t.name, elem: 'f32', dims: t.dims, data: t.data }
    : { name: t.name, elem: 'i64', dims: t.dims, data: BigInt64Array.from(t.data.int64, (v) => BigInt(v)) };

/** Serialise a float32 graph as an ONNX model (IR 8, default-domain opset 17). */
export function encodeModel(g: OnnxGraph): Uint8Array {
  return encodeOnnx(
    { name: 'bench', nodes: g.nodes, inputs: g.inputs, outputs: g.outputs, initializers: (g.initializers ?? []).map(tensorData) },
    { opset: 17, producer: 'gelan-webgpu bench' },
  );
}
