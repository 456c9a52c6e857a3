import { stableStringHash } from '../shared/string-hash';

/**
 * The set of occurrence keys a trigger has fired for, kept in full: firing is exactly once per
 * (trigger, occurrence key) for the trigger's whole life, including when an evaluator replays its
 * input from the start. States are immutable and a busy trigger fires often, so adding must not
 * copy the whole set, and checking must not scan it: the keys are spread by a stable hash over
 * `WIDTH` × `WIDTH` small sets in two levels, and adding copies two arrays of `WIDTH` references
 * and the one small set the key goes to, sharing everything else with the previous state.
 */
export interface OccurrenceKeySet {
  readonly size: number;
  /** `WIDTH` groups of `WIDTH` buckets, by key hash; null where empty. */
  readonly groups: readonly (readonly (ReadonlySet<string> | null)[] | null)[];
}

/** Buckets per level: 64 × 64 = 4,096 buckets, so a million keys make buckets of about 250. */
export const OCCURRENCE_KEY_SET_WIDTH = 64;

export const EMPTY_OCCURRENCE_KEY_SET: OccurrenceKeySet = { size: 0, groups: new Array<null>(OCCURRENCE_KEY_SET_WIDTH).fill(null) };

function slotOf(key: string): { readonly group: number; readonly bucket: number } {
  const hash = stableStringHash(key);
  return { group: hash % OCCURRENCE_KEY_SET_WIDTH, bucket: Math.floor(hash / OCCURRENCE_KEY_SET_WIDTH) % OCCURRENCE_KEY_SET_WIDTH };
}

export function hasOccurrenceKey(set: OccurrenceKeySet, key: string): boolean {
  const { group, bucket } = slotOf(key);
  return set.groups[group]?.[bucket]?.has(key) === true;
}

/** A new set with `key` added; the same set when the key is already there. */
export function addOccurrenceKey(set: OccurrenceKeySet, key: string): OccurrenceKeySet {
  const { group, bucket } = slotOf(key);
  const buckets = set.groups[group] ?? null;
  const keys = buckets?.[bucket] ?? null;
  if (keys?.has(key) === true) return set;
  const nextKeys = new Set(keys ?? []);
  nextKeys.add(key);
  const nextBuckets = buckets === null ? new Array<ReadonlySet<string> | null>(OCCURRENCE_KEY_SET_WIDTH).fill(null) : buckets.slice();
  nextBuckets[bucket] = nextKeys;
  const groups = set.groups.slice();
  groups[group] = nextBuckets;
  return { size: set.size + 1, groups };
}
