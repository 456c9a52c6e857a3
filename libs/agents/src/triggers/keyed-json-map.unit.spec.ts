import { emptyKeyedJsonMap, keyedEntries, keyedGet, keyedSet, keyedUpdateAll, type KeyedJsonMap } from './keyed-json-map';

const contents = <V>(map: KeyedJsonMap<V>) => Object.fromEntries([...keyedEntries(map)].sort(([a], [b]) => (a < b ? -1 : 1)));

describe('keyed JSON map', () => {
  it('given thousands of keys set and some removed, when read, then every key has its last value and the size is right', () => {
    let map = emptyKeyedJsonMap<number>();
    const expected = new Map<string, number>();
    for (let index = 0; index < 5_000; index += 1) {
      const key = `subject-${index % 3_000}`;
      map = keyedSet(map, key, index);
      expected.set(key, index);
      if (index % 7 === 0) {
        map = keyedSet(map, `subject-${(index * 13) % 3_000}`, undefined);
        expected.delete(`subject-${(index * 13) % 3_000}`);
      }
    }

    expect(map.size).toBe(expected.size);
    for (const [key, value] of expected) expect(keyedGet(map, key)).toBe(value);
    expect(contents(map)).toEqual(Object.fromEntries([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
  });

  it('given a map, when a key is set, then the previous map is unchanged', () => {
    const before = keyedSet(keyedSet(emptyKeyedJsonMap<string>(), 'a', 'one'), 'b', 'two');
    const snapshot = JSON.stringify(before);

    const after = keyedSet(keyedSet(before, 'a', 'changed'), 'b', undefined);

    expect(JSON.stringify(before)).toBe(snapshot);
    expect(contents(after)).toEqual({ a: 'changed' });
  });

  it('given keys named like object internals, when set, read, stored and read back, then they are ordinary keys', () => {
    let map = emptyKeyedJsonMap<number>();
    for (const [index, key] of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'].entries()) map = keyedSet(map, key, index);

    const stored = JSON.parse(JSON.stringify(map)) as KeyedJsonMap<number>;

    for (const candidate of [map, stored]) {
      expect(keyedGet(candidate, '__proto__')).toBe(0);
      expect(keyedGet(candidate, 'constructor')).toBe(1);
      expect(keyedGet(candidate, 'valueOf')).toBeUndefined();
      expect(candidate.size).toBe(4);
    }
    expect(keyedGet(keyedSet(stored, '__proto__', undefined), '__proto__')).toBeUndefined();
  });

  it('given a large map swept down to a few keys, when updated all at once, then it keeps those keys in fewer buckets', () => {
    let map = emptyKeyedJsonMap<number>();
    for (let index = 0; index < 2_000; index += 1) map = keyedSet(map, `k${index}`, index);

    const swept = keyedUpdateAll(map, (value) => (value < 5 ? value : undefined));

    expect(contents(swept)).toEqual({ k0: 0, k1: 1, k2: 2, k3: 3, k4: 4 });
    expect(swept.size).toBe(5);
    expect(swept.groups.length).toBeLessThan(map.groups.length);
  });

  it('given an update that keeps every value, when applied, then the same map comes back', () => {
    const map = keyedSet(keyedSet(emptyKeyedJsonMap<number>(), 'a', 1), 'b', 2);

    expect(keyedUpdateAll(map, (value) => value)).toBe(map);
  });
});
