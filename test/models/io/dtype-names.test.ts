// Dtype names at the io API: lower case as the engine's tensors spell them ('f32', 'f16', 'i64', ...) is accepted
// wherever the file tags ('F32', ...) are, and writes exactly what numpy / the Python safetensors writer wrote.
import { describe, expect, it } from 'vitest';
import { type HostTensor, type HostTensorInput, dtypeTag, fromFloat32, toFloat32 } from '../../../models/io/dtypes';
import { readNpy, writeNpy } from '../../../models/io/npy';
import { readSafetensors, writeSafetensors } from '../../../models/io/safetensors';
import { fixtureBytes, fixtureJson } from './helpers';

/** The same tensor with its dtype in lower case. */
const lower = (t: HostTensor): HostTensorInput => ({ ...t, dtype: t.dtype.toLowerCase() }) as HostTensorInput;

describe('lower-case dtype names', () => {
  const npy = fixtureJson<{ files: Record<string, unknown> }>('npy.json');

  it.each(Object.keys(npy.files).filter((n) => !/^v\d/.test(n)))('writeNpy with a lower-case dtype writes %s byte for byte as numpy.save did', (name) => {
    const bytes = fixtureBytes(`npy/${name}`);
    expect(writeNpy(lower(readNpy(bytes)))).toEqual(bytes);
  });

  it('writeSafetensors with lower-case dtypes writes the Python-written reference byte for byte', () => {
    const ref = fixtureBytes('reference.safetensors');
    const { tensors, metadata } = readSafetensors(ref);
    const renamed = new Map([...tensors].map(([k, t]) => [k, lower(t)]));
    expect(writeSafetensors(renamed, metadata ?? undefined)).toEqual(ref);
  });

  it('fromFloat32 and toFloat32 take either spelling; results carry the file tag', () => {
    // 1, -2 and 0.5 are exact in half precision: 0x3c00, 0xc000, 0x3800
    const h = fromFloat32([3], Float32Array.from([1, -2, 0.5]), 'f16');
    expect(h.dtype).toBe('F16');
    expect([...(h.data as Uint16Array)]).toEqual([0x3c00, 0xc000, 0x3800]);
    expect([...toFloat32({ dtype: 'f16', shape: [3], data: h.data as Uint16Array })]).toEqual([1, -2, 0.5]);
    expect(fromFloat32([1], Float32Array.of(3)).dtype).toBe('F32');
  });

  it('an unknown dtype is refused, naming it and the choices', () => {
    expect(() => dtypeTag('f8', 'writeNpy')).toThrow(/writeNpy: unknown dtype 'f8' \(expected one of f32, f16, bf16/);
    expect(() => writeNpy({ dtype: 'q4', shape: [1], data: Float32Array.of(1) } as unknown as HostTensorInput)).toThrow(/unknown dtype 'q4'/);
    expect(() => fromFloat32([1], Float32Array.of(1), 'i32' as 'f32')).toThrow(/not a float dtype/);
  });
});
