// The deployed form of a model, as a new model that leaves the caller's untouched: the auxiliary branch removed
// (dual-head models become the single-head graph derived from their own config), every Conv+BN and RepConvN
// folded (models/fuse.ts), eval mode.
import { copy } from '../../engine/ops';
import { noGrad } from '../../engine/tensor';
import { fuseModel } from '../fuse';
import { removeAuxBranch } from '../reparam';
import { gelanConfigFor } from '../reparam-config';
import { DetectionModel } from '../yolo';
import { Conv } from '../layers';
import type { Module } from '../module';

const isFused = (m: Module): boolean => (m instanceof Conv && m.bn === null) || [...m.childModules.values()].some(isFused);

/** A copy of `model` with the same weights (an already fused model is copied fused). */
export function cloneModel(model: DetectionModel): DetectionModel {
  const out = new DetectionModel(model.device, model.config, () => 0.5, model.inputChannels);
  try {
    if (isFused(model)) fuseModel(out);
    const src = new Map([...model.stateEntries()].map(([k, t]) => [k, t] as const));
    noGrad(out.device, () => {
      for (const [key, t] of [...out.stateEntries()]) {
        const s = src.get(key);
        if (!s || s.shape.join() !== t.shape.join()) throw new Error(`cannot copy ${model.config.source}: ${key} ${s ? 'has another shape' : 'is missing'} (a partly fused model?)`);
        out.setTensor(key, copy(s));
      }
    });
    for (const [k, bn] of out.batchNorms()) bn.numBatchesTracked = [...model.batchNorms()].find(([j]) => j === k)?.[1].numBatchesTracked ?? 0;
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  }
}

/** The single-head, fused, eval-mode copy of `model` that exporters walk. */
export function deployableModel(model: DetectionModel): DetectionModel {
  const single = model.isDual ? removeAuxBranch(model, gelanConfigFor(model.config)) : cloneModel(model);
  single.eval();
  fuseModel(single);
  return single;
}
