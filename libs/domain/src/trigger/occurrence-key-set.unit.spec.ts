import { addOccurrenceKey, EMPTY_OCCURRENCE_KEY_SET, hasOccurrenceKey, OCCURRENCE_KEY_CHUNK_SIZE, type OccurrenceKeySet } from './occurrence-key-set';

describe('OccurrenceKeySet', () => {
  it('remembers every key added, across chunks', () => {
    let set: OccurrenceKeySet = EMPTY_OCCURRENCE_KEY_SET;
    const count = OCCURRENCE_KEY_CHUNK_SIZE * 2 + 3;
    for (let i = 0; i < count; i++) set = addOccurrenceKey(set, `key-${i}`);
    expect(set.size).toBe(count);
    expect(set.chunks.map((chunk) => chunk.size)).toEqual([OCCURRENCE_KEY_CHUNK_SIZE, OCCURRENCE_KEY_CHUNK_SIZE, 3]);
    for (const i of [0, OCCURRENCE_KEY_CHUNK_SIZE - 1, OCCURRENCE_KEY_CHUNK_SIZE, count - 1]) {
      expect(hasOccurrenceKey(set, `key-${i}`)).toBe(true);
    }
    expect(hasOccurrenceKey(set, `key-${count}`)).toBe(false);
  });

  it('returns the same set for a key already there', () => {
    const set = addOccurrenceKey(EMPTY_OCCURRENCE_KEY_SET, 'a');
    expect(addOccurrenceKey(set, 'a')).toBe(set);
  });

  it('leaves the set it was given untouched and shares full chunks', () => {
    let set: OccurrenceKeySet = EMPTY_OCCURRENCE_KEY_SET;
    for (let i = 0; i < OCCURRENCE_KEY_CHUNK_SIZE + 1; i++) set = addOccurrenceKey(set, `key-${i}`);
    const next = addOccurrenceKey(set, 'new');
    expect(hasOccurrenceKey(set, 'new')).toBe(false);
    expect(set.size).toBe(OCCURRENCE_KEY_CHUNK_SIZE + 1);
    expect(next.chunks[0]).toBe(set.chunks[0]);
    expect(hasOccurrenceKey(next, 'new')).toBe(true);
  });
});
