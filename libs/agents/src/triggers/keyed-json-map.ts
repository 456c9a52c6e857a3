/**
 * A string-keyed map kept as plain JSON, for evaluator state that is stored and read back.
 *
 * Evaluators never mutate the state they are given, so every update returns a new map. A single
 * flat object would be copied in full on each update, which grows with the number of subjects a
 * per-subject trigger is tracking; the keys are therefore spread over a fixed number of buckets by
 * a stable string hash, and an update copies the list of buckets and one bucket only, sharing the
 * rest with the previous state.
 *
 * Keys are arbitrary strings (subjects come from producers), including `__proto__` and
 * `constructor`: reads check own properties only and writes create data properties, so no key
 * reaches an object's prototype.
 */
export interface KeyedJsonMap<V> {
  readonly size: number;
  /** Bucket number (as a string) → key → value; empty buckets are left out. */
  readonly buckets: { readonly [bucket: string]: { readonly [key: string]: V } };
}

const BUCKET_COUNT = 64;

/** FNV-1a over UTF-16 code units: stable across processes, so a stored map reads back the same. */
function bucketOf(key: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index += 1) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return String((hash >>> 0) % BUCKET_COUNT);
}

export function emptyKeyedJsonMap<V>(): KeyedJsonMap<V> {
  return { size: 0, buckets: {} };
}

export function keyedGet<V>(map: KeyedJsonMap<V>, key: string): V | undefined {
  const bucket = map.buckets[bucketOf(key)];
  return bucket !== undefined && Object.hasOwn(bucket, key) ? bucket[key] : undefined;
}

/** A new map with `key` set to `value`, or removed when `value` is undefined. */
export function keyedSet<V>(map: KeyedJsonMap<V>, key: string, value: V | undefined): KeyedJsonMap<V> {
  const name = bucketOf(key);
  const bucket = map.buckets[name];
  const present = bucket !== undefined && Object.hasOwn(bucket, key);
  if (value === undefined) {
    if (!present) return map;
    const copy: Record<string, V> = { ...bucket };
    delete copy[key];
    const buckets: Record<string, Record<string, V>> = { ...map.buckets };
    if (Object.keys(copy).length === 0) delete buckets[name];
    else buckets[name] = copy;
    return { size: map.size - 1, buckets };
  }
  // A computed key in a literal defines a data property, even for "__proto__".
  return { size: present ? map.size : map.size + 1, buckets: { ...map.buckets, [name]: { ...bucket, [key]: value } } };
}

/** Sets a data property, never the prototype (`copy[key] = value` would for "__proto__"). */
function defineEntry<V>(target: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function* keyedEntries<V>(map: KeyedJsonMap<V>): Generator<readonly [string, V]> {
  for (const bucket of Object.values(map.buckets)) {
    for (const key of Object.keys(bucket)) yield [key, bucket[key] as V];
  }
}

/**
 * Every value replaced by `update(value, key)`: the same value keeps it, undefined removes the key.
 * Returns the same map when nothing changed.
 */
export function keyedUpdateAll<V>(map: KeyedJsonMap<V>, update: (value: V, key: string) => V | undefined): KeyedJsonMap<V> {
  let changed = false;
  let size = 0;
  const buckets: Record<string, Record<string, V>> = {};
  for (const [name, bucket] of Object.entries(map.buckets)) {
    let copy: Record<string, V> | undefined;
    for (const key of Object.keys(bucket)) {
      const value = bucket[key] as V;
      const next = update(value, key);
      if (next === value) continue;
      copy ??= { ...bucket };
      if (next === undefined) delete copy[key];
      else defineEntry(copy, key, next);
    }
    const kept = copy ?? bucket;
    if (copy !== undefined) changed = true;
    const count = Object.keys(kept).length;
    size += count;
    if (count > 0) buckets[name] = kept;
  }
  return changed ? { size, buckets } : map;
}
