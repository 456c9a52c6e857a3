import { addOccurrenceKey, EMPTY_OCCURRENCE_KEY_SET, hasOccurrenceKey, type OccurrenceKeySet } from './occurrence-key-set';

describe('OccurrenceKeySet', () => {
  it('remembers every key added, and no other', () => {
    let set: OccurrenceKeySet = EMPTY_OCCURRENCE_KEY_SET;
    const count = 20_000;
    for (let i = 0; i < count; i++) set = addOccurrenceKey(set, `key-${i}`);
    expect(set.size).toBe(count);
    for (let i = 0; i < count; i += 1) expect(hasOccurrenceKey(set, `key-${i}`)).toBe(true);
    expect(hasOccurrenceKey(set, `key-${count}`)).toBe(false);
    expect(hasOccurrenceKey(set, '__proto__')).toBe(false);
    expect(hasOccurrenceKey(addOccurrenceKey(set, '__proto__'), '__proto__')).toBe(true);
  });

  it('returns the same set for a key already there', () => {
    const set = addOccurrenceKey(EMPTY_OCCURRENCE_KEY_SET, 'a');
    expect(addOccurrenceKey(set, 'a')).toBe(set);
  });

  it('leaves the set it was given untouched and shares what the new key does not touch', () => {
    let set: OccurrenceKeySet = EMPTY_OCCURRENCE_KEY_SET;
    for (let i = 0; i < 5_000; i++) set = addOccurrenceKey(set, `key-${i}`);
    const next = addOccurrenceKey(set, 'new');
    expect(hasOccurrenceKey(set, 'new')).toBe(false);
    expect(set.size).toBe(5_000);
    expect(next.size).toBe(5_001);
    expect(hasOccurrenceKey(next, 'new')).toBe(true);
    const shared = next.groups.filter((group, index) => group === set.groups[index]).length;
    expect(shared).toBe(next.groups.length - 1);
  });
});
