// The multi-key and conditional writes of the key/value store (what the Redis port's SET NX/XX,
// DEL, MSET and MGET use), as the simulator's and the chaos runner's workloads drive them, and how
// each goes into a history the per-key checker can judge:
// - a flag key takes put-if (absent: recorded as a cas from null; present: as a replace), delete
//   (a delete-many of that one key) and read;
// - a group key stands for GROUP_SIZE member keys that are only ever written together (put-many of
//   one value to all, recorded as a write of the group), deleted together (delete-many, a delete of
//   the group) and read together (get-many, a read of the group). Every write of a group gives all
//   its members one value, so a read that finds them different saw half of an atomic write: a torn
//   read, reported as a violation of its own, whatever the linearizability check says.

import type { Random } from './random.js';

export const GROUP_SIZE = 3;

export const flagKey = (slot: number): string => `flag${slot}`;
export const groupKey = (slot: number): string => `group${slot}`;
export const isFlagKey = (key: string): boolean => key.startsWith('flag');
export const isGroupKey = (key: string): boolean => key.startsWith('group');

/** The store keys a group key stands for. */
export function groupMembers(key: string): string[] {
  return Array.from({ length: GROUP_SIZE }, (_, member) => `${key}.${member}`);
}

/** The store keys a history key stands for: a group's members, or the key itself. */
export const storeKeysOf = (key: string): string[] => (isGroupKey(key) ? groupMembers(key) : [key]);

export type FlagWrite = 'put-if-absent' | 'put-if-present' | 'delete';
export type GroupWrite = 'put-many' | 'delete-many';

/** Flag writes, cumulative: put-if absent 40%, present 35%, delete 25% (so both conditions go both ways). */
const flagWriteShares: readonly (readonly [FlagWrite, number])[] = [
  ['put-if-absent', 0.4],
  ['put-if-present', 0.75],
  ['delete', 1],
];
/** Group writes: put-many 75%, delete-many 25%. */
const groupDeleteProbability = 0.25;

export function chooseFlagWrite(random: Random): FlagWrite {
  const roll = random.next();
  return flagWriteShares.find(([, share]) => roll < share)?.[0] ?? 'delete';
}

export function chooseGroupWrite(random: Random): GroupWrite {
  return random.chance(groupDeleteProbability) ? 'delete-many' : 'put-many';
}

/** The value a group read saw (its members agree), or why not: they disagree, so a write was torn. */
export function groupValue(
  key: string,
  values: readonly (string | null)[],
): { readonly value: string | null } | { readonly torn: string } {
  const first = values[0] ?? null;
  if (values.every((value) => value === first)) return { value: first };
  return {
    torn: `torn read of ${key}: its members, written only together, held ${JSON.stringify(values)} at once`,
  };
}
