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
 * Keys are arbitrary strings (subjects come from producers), including `__proto__` and
 * `constructor`: reads check own properties only and writes create data properties, so no key
 * reaches an object's prototype.
 */
export interface KeyedJsonMap<V> {
  readonly size: number;
  /**
   * Buckets by key hash, in `width` groups of `width` buckets (`width` a power of two); null for an
   * empty bucket. Two levels keep an update's copying to two short arrays and one small bucket.
   */
  readonly groups: readonly (readonly (Readonly<Record<string, V>> | null)[])[];
}

type Bucket<V> = Record<string, V>;

/** Buckets hold this many keys on average at most before the number of buckets grows. */
const KEYS_PER_BUCKET = 8;

/** FNV-1a over UTF-16 code units: stable across processes, so a stored map reads back the same. */
function hashOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index += 1) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Group and bucket of a key in a map of `width` × `width` buckets. */
function slotOf(key: string, width: number): readonly [number, number] {
  const index = hashOf(key) & (width * width - 1);
  return [Math.floor(index / width), index & (width - 1)];
}

/** Sets a data property, never the prototype (`target[key] = value` would for "__proto__"). */
function defineEntry<V>(target: Bucket<V>, key: string, value: V): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function widthFor(size: number): number {
  let width = 1;
  while (width * width * KEYS_PER_BUCKET < size) width *= 2;
  return width;
}

/** The same entries over `width` × `width` buckets. */
function rehash<V>(entries: Iterable<readonly [string, V]>, size: number, width: number): KeyedJsonMap<V> {
  const groups: (Bucket<V> | null)[][] = Array.from({ length: width }, () => new Array<null>(width).fill(null));
  for (const [key, value] of entries) {
    const [group, slot] = slotOf(key, width);
    const buckets = groups[group] as (Bucket<V> | null)[];
    const bucket = (buckets[slot] ??= {});
    defineEntry(bucket, key, value);
  }
  return { size, groups };
}

export function emptyKeyedJsonMap<V>(): KeyedJsonMap<V> {
  return { size: 0, groups: [[null]] };
}

export function keyedGet<V>(map: KeyedJsonMap<V>, key: string): V | undefined {
  const [group, slot] = slotOf(key, map.groups.length);
  const bucket = map.groups[group]?.[slot];
  return bucket !== null && bucket !== undefined && Object.hasOwn(bucket, key) ? bucket[key] : undefined;
}

/** A new map with `key` set to `value`, or removed when `value` is undefined. */
export function keyedSet<V>(map: KeyedJsonMap<V>, key: string, value: V | undefined): KeyedJsonMap<V> {
  const width = map.groups.length;
  const [group, slot] = slotOf(key, width);
  const buckets = map.groups[group] as readonly (Bucket<V> | null)[];
  const bucket = buckets[slot] ?? null;
  const present = bucket !== null && Object.hasOwn(bucket, key);
  if (value === undefined && !present) return map;
  const copy: Bucket<V> = { ...bucket };
  if (value === undefined) delete copy[key];
  else defineEntry(copy, key, value);
  const size = map.size + (value === undefined ? -1 : present ? 0 : 1);
  const groupCopy = [...buckets];
  groupCopy[slot] = Object.keys(copy).length === 0 ? null : copy;
  const groups = [...map.groups];
  groups[group] = groupCopy;
  const updated = { size, groups };
  return size > width * width * KEYS_PER_BUCKET ? rehash(keyedEntries(updated), size, width * 2) : updated;
}

export function* keyedEntries<V>(map: KeyedJsonMap<V>): Generator<readonly [string, V]> {
  for (const buckets of map.groups) {
    for (const bucket of buckets) {
      if (bucket === null) continue;
      for (const key of Object.keys(bucket)) yield [key, bucket[key] as V];
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
      let copy: Bucket<V> | undefined;
      for (const key of Object.keys(bucket)) {
        const value = bucket[key] as V;
        const next = update(value, key);
        if (next === value) continue;
        copy ??= { ...bucket };
        if (next === undefined) delete copy[key];
        else defineEntry(copy, key, next);
      }
      if (copy === undefined) {
        size += Object.keys(bucket).length;
        return bucket;
      }
      groupChanged = true;
      const count = Object.keys(copy).length;
      size += count;
      return count === 0 ? null : copy;
    });
    changed ||= groupChanged;
    return groupChanged ? updated : buckets;
  });
  if (!changed) return map;
  const width = widthFor(size);
  const shrunk = { size, groups };
  return width * 2 <= map.groups.length ? rehash(keyedEntries(shrunk), size, width) : shrunk;
}
