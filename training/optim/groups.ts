// The official parameter groups (utils/torch_utils.py: smart_optimizer), in its order: group 0 = every bias
// (no decay), group 1 = conv/linear weights (decay), group 2 = BatchNorm weights (no decay); modules visited
// depth-first in registration order, as model.modules() does.
import type { Module } from '../../models/module';
import { BatchNorm2d } from '../../models/layers';

export type GroupName = 'bias' | 'weight' | 'bn';
export const GROUP_ORDER: readonly GroupName[] = ['bias', 'weight', 'bn'];

export interface ParamRef {
  /** State-dict key (`model.0.conv.weight`). */
  readonly key: string;
  readonly group: GroupName;
}

/** The model's parameters in the official three groups: weights with decay, BatchNorm weights and biases. */
export function parameterGroups(model: Module): Record<GroupName, ParamRef[]> {
  const groups: Record<GroupName, ParamRef[]> = { bias: [], weight: [], bn: [] };
  const visit = (m: Module, prefix: string): void => {
    const own = new Map([...m.namedParameters()].filter(([k]) => !k.includes('.')));
    if (own.has('bias')) groups.bias.push({ key: `${prefix}bias`, group: 'bias' });
    if (own.has('weight')) {
      const g: GroupName = m instanceof BatchNorm2d ? 'bn' : 'weight';
      groups[g].push({ key: `${prefix}weight`, group: g });
    }
    for (const [name, kid] of m.childModules) visit(kid, `${prefix}${name}.`);
  };
  visit(model, '');
  return groups;
}
