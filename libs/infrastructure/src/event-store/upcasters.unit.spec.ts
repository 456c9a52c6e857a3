import type { RecordedEvent } from '@meridian/domain';
import { Upcasters } from './upcasters';

function recorded(type: string, data: unknown, schemaVersion: number): RecordedEvent {
  return {
    streamName: 'default/thing-1',
    revision: 0,
    position: 1,
    eventId: 'e1',
    type,
    data,
    metadata: { occurredAt: '2026-01-01T00:00:00.000Z', correlationId: 'c', causationId: null, hop: 0, tenantId: 'default', actor: { kind: 'system', id: 't' } },
    schemaVersion,
    recordedAt: '2026-01-01T00:00:00.000Z',
  };
}

describe('Upcasters', () => {
  const upcasters = new Upcasters()
    .register('name.set', 1, (d) => ({ fullName: (d as { name: string }).name }))
    .register('name.set', 2, (d) => {
      const [first, ...rest] = (d as { fullName: string }).fullName.split(' ');
      return { first, last: rest.join(' ') };
    });

  it('chains steps from the stored version to the latest', () => {
    const event = upcasters.upcast(recorded('name.set', { name: 'Ada King Lovelace' }, 1));
    expect(event.data).toEqual({ first: 'Ada', last: 'King Lovelace' });
    expect(event.schemaVersion).toBe(3);
  });

  it('starts from the stored version', () => {
    const event = upcasters.upcast(recorded('name.set', { fullName: 'Grace Hopper' }, 2));
    expect(event.data).toEqual({ first: 'Grace', last: 'Hopper' });
    expect(event.schemaVersion).toBe(3);
  });

  it('returns events of current versions and other types unchanged', () => {
    const current = recorded('name.set', { first: 'A', last: 'B' }, 3);
    expect(upcasters.upcast(current)).toBe(current);
    const other = recorded('other', { name: 'x' }, 1);
    expect(upcasters.upcast(other)).toBe(other);
  });

  it('keeps everything but data and version, and does not mutate the stored event', () => {
    const stored = recorded('name.set', { name: 'Alan Turing' }, 1);
    const event = upcasters.upcast(stored);
    expect({ ...event, data: undefined, schemaVersion: undefined }).toEqual({ ...stored, data: undefined, schemaVersion: undefined });
    expect(stored.data).toEqual({ name: 'Alan Turing' });
    expect(stored.schemaVersion).toBe(1);
  });

  it('reports the version a type is read at', () => {
    expect(upcasters.currentVersion('name.set')).toBe(3);
    expect(upcasters.currentVersion('other')).toBe(1);
  });

  it('refuses a second step for the same version and invalid versions', () => {
    expect(() => upcasters.register('name.set', 1, (d) => d)).toThrow(/already registered/);
    expect(() => new Upcasters().register('x', 0, (d) => d)).toThrow(RangeError);
  });
});
