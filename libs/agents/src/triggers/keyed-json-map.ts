import { stableStringHash } from '@meridian/domain';

/**
 * A string-keyed map kept as plain JSON, for evaluator state that is stored and read back.
 *
 * Evaluators never mutate the state they are given, so every update returns a new map. One flat
 * object would be copied in full on each update, which grows with the number of subjects a
 * per-subject trigger is tracking; the keys are therefore spread over buckets by a stable string
 * hash, and an update copies two short arrays of references and one small bucket,
 * sharing the rest with the previous state. The number of buckets grows with the map, so buckets
 * stay small.
 *
 * A bucket is a list of `[key, value]` pairs rather than an object: keys are arbitrary strings
 * (subjects come from producers), including `__proto__` and `constructor`, and a list has no
 * prototype to reach; it is also cheaper to copy than an object with keys only known at run time.
 */
export interface KeyedJsonMap<V> {
  readonly size: number;
  /**
   * Buckets by key hash, in `width` groups of `width` buckets (`width` a power of two); null for an
   * empty bucket. Two levels keep an update's copying to two short arrays and one small bucket.
   */
  readonly groups: readonly (readonly (Bucket<V> | null)[])[];
}

type Bucket<V> = readonly (readonly [string, V])[];

/** Buckets hold this many keys on average at most before the number of buckets grows. */
const KEYS_PER_BUCKET = 8;

function widthFor(size: number): number {
  let width = 1;
  while (width * width * KEYS_PER_BUCKET < size) width *= 2;
  return width;
}

function indexIn<V>(bucket: Bucket<V>, key: string): number {
  for (let index = 0; index < bucket.length; index += 1) if ((bucket[index] as readonly [string, V])[0] === key) return index;
  return -1;
}

/** The same entries over `width` × `width` buckets. */
function rehash<V>(entries: Iterable<readonly [string, V]>, size: number, width: number): KeyedJsonMap<V> {
  const groups: ([string, V][] | null)[][] = Array.from({ length: width }, () => new Array<null>(width).fill(null));
  for (const [key, value] of entries) {
    const index = stableStringHash(key) & (width * width - 1);
    const buckets = groups[Math.floor(index / width)] as ([string, V][] | null)[];
    const slot = index & (width - 1);
    (buckets[slot] ??= []).push([key, value]);
  }
  return { size, groups };
}

export function emptyKeyedJsonMap<V>(): KeyedJsonMap<V> {
  return { size: 0, groups: [[null]] };
}

export function keyedGet<V>(map: KeyedJsonMap<V>, key: string): V | undefined {
  const width = map.groups.length;
  const index = stableStringHash(key) & (width * width - 1);
  const bucket = map.groups[Math.floor(index / width)]?.[index & (width - 1)];
  if (bucket === null || bucket === undefined) return undefined;
  const at = indexIn(bucket, key);
  return at < 0 ? undefined : (bucket[at] as readonly [string, V])[1];
}

/** A new map with `key` set to `value`, or removed when `value` is undefined. */
export function keyedSet<V>(map: KeyedJsonMap<V>, key: string, value: V | undefined): KeyedJsonMap<V> {
  const width = map.groups.length;
  const index = stableStringHash(key) & (width * width - 1);
  const group = Math.floor(index / width);
  const slot = index & (width - 1);
  const buckets = map.groups[group] as readonly (Bucket<V> | null)[];
  const bucket = buckets[slot] ?? null;
  const at = bucket === null ? -1 : indexIn(bucket, key);
  if (value === undefined && at < 0) return map;
  let copy: Bucket<V> | null;
  if (value === undefined) {
    copy = (bucket as Bucket<V>).length === 1 ? null : (bucket as Bucket<V>).filter((_, position) => position !== at);
  } else if (at < 0) {
    copy = bucket === null ? [[key, value]] : [...bucket, [key, value]];
  } else {
    const replaced = (bucket as Bucket<V>).slice();
    replaced[at] = [key, value];
    copy = replaced;
  }
  const size = map.size + (value === undefined ? -1 : at >= 0 ? 0 : 1);
  const groupCopy = buckets.slice();
  groupCopy[slot] = copy;
  const groups = map.groups.slice();
  groups[group] = groupCopy;
  const updated = { size, groups };
  return size > width * width * KEYS_PER_BUCKET ? rehash(keyedEntries(updated), size, width * 2) : updated;
}

export function* keyedEntries<V>(map: KeyedJsonMap<V>): Generator<readonly [string, V]> {
  for (const buckets of map.groups) {
    for (const bucket of buckets) {
      if (bucket === null) continue;
      yield* bucket;
    }
  }
}

/**
 * Every value replaced by `update(value, key)`: the same value keeps it, undefined removes the key.
 * Returns the same map when nothing changed; only changed buckets are copied, and a map that
 * shrank to a quarter of what its buckets are sized for is spread over fewer.
 */
export function keyedUpdateAll<V>(map: KeyedJsonMap<V>, update: (value: V, key: string) => V | undefined): KeyedJsonMap<V> {
  let size = 0;
  let changed = false;
  const groups = map.groups.map((buckets) => {
    let groupChanged = false;
    const updated = buckets.map((bucket) => {
      if (bucket === null) return null;
      let copy: [string, V][] | undefined;
      bucket.forEach(([key, value], position) => {
        const next = update(value, key);
        if (copy === undefined && next === value) return;
        copy ??= bucket.slice(0, position) as [string, V][];
        if (next !== undefined) copy.push([key, next]);
      });
      if (copy === undefined) {
        size += bucket.length;
        return bucket;
      }
      groupChanged = true;
      size += copy.length;
      return copy.length === 0 ? null : copy;
    });
    changed ||= groupChanged;
    return groupChanged ? updated : buckets;
  });
  if (!changed) return map;
  const width = widthFor(size);
  const shrunk = { size, groups };
  return width * 2 <= map.groups.length ? rehash(keyedEntries(shrunk), size, width) : shrunk;
}
