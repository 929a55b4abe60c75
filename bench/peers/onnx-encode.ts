// A minimal ONNX (protobuf) writer: just enough of ModelProto to build one-op or few-op float32 graphs in
// memory for onnxruntime-web. Field numbers from onnx/onnx.proto (IR version 8, opset 17).

class Writer {
  private readonly parts: Uint8Array[] = [];
  private len = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.len += b.length;
  }

  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      out.push(byte);
    } while (x !== 0n);
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number): this {
    this.key(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.len);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

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

const FLOAT = 1;
const INT64 = 7;

function valueInfo(v: OnnxValue): Writer {
  const shape = new Writer();
  for (const d of v.dims) shape.message(1, new Writer().int(1, d)); // Dimension.dim_value
  const tensorType = new Writer().int(1, FLOAT).message(2, shape); // TypeProto.Tensor: elem_type, shape
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType)); // name, type.tensor_type
}

function attribute(name: string, a: Attr): Writer {
  const w = new Writer().string(1, name);
  if (typeof a === 'number') return w.int(3, a).int(20, 2); // i, type INT
  if (Array.isArray(a)) {
    for (const v of a) w.int(8, v); // ints (unpacked is valid protobuf)
    return w.int(20, 7); // type INTS
  }
  return w.float(2, a.f).int(20, 1); // f, type FLOAT
}

function initializer(t: OnnxInitializer): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  if (t.data instanceof Float32Array) {
    w.int(2, FLOAT);
    w.string(8, t.name);
    w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } else {
    w.int(2, INT64);
    w.string(8, t.name);
    const raw = new BigInt64Array(t.data.int64.map((v) => BigInt(v)));
    w.bytes(9, new Uint8Array(raw.buffer));
  }
  return w;
}

/** Serialise a float32 graph as an ONNX model (IR 8, default-domain opset 17). */
export function encodeModel(g: OnnxGraph): Uint8Array {
  const graph = new Writer();
  g.nodes.forEach((n, i) => {
    const node = new Writer();
    for (const x of n.inputs) node.string(1, x);
    for (const y of n.outputs) node.string(2, y);
    node.string(3, `${n.op}_${i}`).string(4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) node.message(5, attribute(k, v));
    graph.message(1, node);
  });
  graph.string(2, 'bench');
  for (const t of g.initializers ?? []) graph.message(5, initializer(t));
  for (const v of g.inputs) graph.message(11, valueInfo(v));
  for (const v of g.outputs) graph.message(12, valueInfo(v));
  return new Writer()
    .int(1, 8) // ir_version
    .string(2, 'gelan-webgpu bench') // producer_name
    .message(7, graph)
    .message(8, new Writer().string(1, '').int(2, 17)) // opset_import
    .finish();
}
