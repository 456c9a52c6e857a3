/**
 * The set of occurrence keys a trigger has fired for, kept in full: firing is exactly once per
 * (trigger, occurrence key) for the trigger's whole life, including when an evaluator replays its
 * input from the start. Adding must stay cheap however many keys there are, and states are
 * immutable, so the set is chunked: adding copies only the last chunk (at most CHUNK_SIZE keys)
 * and the list of chunks, never the whole set; earlier chunks are shared between states.
 */
export interface OccurrenceKeySet {
  readonly size: number;
  /** Every chunk but the last holds exactly OCCURRENCE_KEY_CHUNK_SIZE keys. */
  readonly chunks: readonly ReadonlySet<string>[];
}

export const OCCURRENCE_KEY_CHUNK_SIZE = 1_024;

export const EMPTY_OCCURRENCE_KEY_SET: OccurrenceKeySet = { size: 0, chunks: [] };

export function hasOccurrenceKey(set: OccurrenceKeySet, key: string): boolean {
  return set.chunks.some((chunk) => chunk.has(key));
}

/** A new set with `key` added; the same set when the key is already there. */
export function addOccurrenceKey(set: OccurrenceKeySet, key: string): OccurrenceKeySet {
  if (hasOccurrenceKey(set, key)) return set;
  const last = set.chunks[set.chunks.length - 1];
  if (last === undefined || last.size >= OCCURRENCE_KEY_CHUNK_SIZE) {
    return { size: set.size + 1, chunks: [...set.chunks, new Set([key])] };
  }
  return { size: set.size + 1, chunks: [...set.chunks.slice(0, -1), new Set([...last, key])] };
}
