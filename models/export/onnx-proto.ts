// ONNX models as plain data, serialised through ONNX's generated protobuf types (npm `onnx-proto`, protobufjs).
// The model exporter and the benchmark's one-op graphs both describe their graphs this way.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type OnnxElem = 'f32' | 'f16' | 'i64' | 'i32' | 'bool';

const ELEM: Readonly<Record<OnnxElem, number>> = {
  f32: onnx.TensorProto.DataType.FLOAT,
  f16: onnx.TensorProto.DataType.FLOAT16,
  i64: onnx.TensorProto.DataType.INT64,
  i32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** ONNX element type number of a tensor type (TensorProto.DataType), e.g. for Cast's `to`. */
export const onnxElemType = (e: OnnxElem): number => ELEM[e];

/** A graph input or output: a name, an element type and dims (a string is a symbolic dimension). */
export interface OnnxValueInfo {
  readonly name: string;
  readonly elem?: OnnxElem;
  readonly dims: readonly (number | string)[];
}

/** Typed data of an initializer: f16 values are their IEEE half bit patterns. */
export type OnnxData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

export interface OnnxTensorData {
  readonly name: string;
  readonly elem: OnnxElem;
  readonly dims: readonly number[];
  readonly data: OnnxData;
}

/** Attribute values: integer, integer list, float (`{ f }`), string (`{ s }`) or tensor (`{ t }`). */
export type OnnxAttr = number | readonly number[] | { readonly f: number } | { readonly s: string } | { readonly t: OnnxTensorData };

export interface OnnxNodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, OnnxAttr>>;
  readonly name?: string;
}

export interface OnnxGraphSpec {
  readonly name?: string;
  readonly nodes: readonly OnnxNodeSpec[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly initializers?: readonly OnnxTensorData[];
}

export interface OnnxModelOptions {
  /** Default-domain opset (17 unless given). */
  readonly opset?: number;
  readonly producer?: string;
  readonly producerVersion?: string;
  /** ModelProto.metadata_props. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** IR version 8 is what opset 17 belongs to; later opsets need later IR versions. */
const irVersionFor = (opset: number): number => (opset <= 17 ? 8 : opset <= 19 ? 9 : 10);

function tensorProto(t: OnnxTensorData): onnxProto.onnx.ITensorProto {
  const d = t.data;
  return { name: t.name, dataType: ELEM[t.elem], dims: [...t.dims], rawData: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
}

function valueInfo(v: OnnxValueInfo): onnxProto.onnx.IValueInfoProto {
  const dim = v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name: v.name, type: { tensorType: { elemType: ELEM[v.elem ?? 'f32'], shape: { dim } } } };
}

function attribute(name: string, a: OnnxAttr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof a === 'number') return { name, type: T.INT, i: a };
  if (Array.isArray(a)) return { name, type: T.INTS, ints: [...(a as readonly number[])] };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('s' in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
  return { name, type: T.TENSOR, t: tensorProto((a as { t: OnnxTensorData }).t) };
}

/** Serialise a graph as an ONNX ModelProto. */
export function encodeOnnx(g: OnnxGraphSpec, o: OnnxModelOptions = {}): Uint8Array {
  const opset = o.opset ?? 17;
  const model = onnx.ModelProto.create({
    irVersion: irVersionFor(opset),
    producerName: o.producer ?? 'gelan-webgpu',
    producerVersion: o.producerVersion ?? '',
    opsetImport: [{ domain: '', version: opset }],
    metadataProps: Object.entries(o.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name ?? 'main',
      node: g.nodes.map((n, i) => ({
        name: n.name ?? `${n.op}_${i}`,
        opType: n.op,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: (g.initializers ?? []).map(tensorProto),
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Read back an ONNX model's metadata_props and graph input/output names (for checks and messages). */
export function describeOnnx(bytes: Uint8Array): { opset: number; metadata: Record<string, string>; inputs: string[]; outputs: string[]; nodes: number } {
  const m = onnx.ModelProto.decode(bytes);
  const metadata: Record<string, string> = {};
  for (const p of m.metadataProps) metadata[p.key ?? ''] = p.value ?? '';
  const opset = Number(m.opsetImport.find((s) => !s.domain)?.version ?? 0);
  return { opset, metadata, inputs: (m.graph?.input ?? []).map((v) => v.name ?? ''), outputs: (m.graph?.output ?? []).map((v) => v.name ?? ''), nodes: m.graph?.node?.length ?? 0 };
}
