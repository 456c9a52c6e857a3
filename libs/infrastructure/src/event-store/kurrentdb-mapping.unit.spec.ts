import { ErrorType, StreamNotFoundError, UnsupportedError, WrongExpectedVersionError, type RecordedEvent as KurrentRecordedEvent } from '@kurrent/kurrentdb-client';
import { validate as isUuid, version as uuidVersion } from 'uuid';
import { ConcurrencyConflictError, streamName, type EventFilter, type RecordedEvent } from '@meridian/domain';
import { InvalidAppendError } from './append-planner';
import { testMetadata } from './event-store.conformance';
import {
  EVENT_ID_CLAIM_TYPE,
  KurrentMappingError,
  KurrentStreamNames,
  METADATA_KEY,
  ORIGINAL_EVENT_ID_KEY,
  SCHEMA_VERSION_KEY,
  claimRecordId,
  decodeClaim,
  decodeMetadata,
  encodeData,
  encodeMetadata,
  escapeRegex,
  exactExpectedState,
  isAppendConflict,
  isStreamNotFound,
  keepEvent,
  readAllStart,
  toActualRevision,
  toConcurrencyConflict,
  toGlobalPosition,
  toKurrentEventId,
  toKurrentExpectedState,
  toRecordedEvent,
  toRevision,
  toServerFilter,
  translateUnsupported,
} from './kurrentdb-mapping';

// Deterministic and offline: the client is imported for its error classes only (no connection).

const names = new KurrentStreamNames();
const UUID = '3f2a6c1e-8b4d-4e2f-9a1b-0c7d5e6f8a9b';

function record(overrides: Partial<Record<keyof KurrentRecordedEvent, unknown>> = {}): KurrentRecordedEvent {
  return {
    streamId: 'meridian/default/order-1',
    id: UUID,
    isJson: true,
    revision: 4n,
    type: 'order.placed',
    created: new Date('2026-03-01T12:00:01.234Z'),
    data: { total: 40 },
    metadata: encodeMetadata({ eventId: UUID, metadata: testMetadata(), schemaVersion: 2 }),
    position: { commit: 4096n, prepare: 4096n },
    ...overrides,
  } as KurrentRecordedEvent;
}

describe('KurrentDB mapping', () => {
  describe('stream names', () => {
    it('puts every Meridian stream under the namespace and maps it back', () => {
      const name = streamName('entity', '42', 'acme');
      expect(names.toKurrent(name)).toBe('meridian/acme/entity-42');
      expect(names.fromKurrent(names.toKurrent(name))).toBe(name);
      // A tenant that looks like a system stream stays out of KurrentDB's `$` space.
      expect(names.toKurrent('$all/x-1')).toBe('meridian/$all/x-1');
      expect(names.fromKurrent('meridian/$all/x-1')).toBe('$all/x-1');
    });

    it('does not take other streams for Meridian streams: other applications, claims, system streams', () => {
      expect(names.fromKurrent('default/order-1')).toBeNull();
      expect(names.fromKurrent(names.claimStream(UUID))).toBeNull();
      expect(names.fromKurrent('$streams')).toBeNull();
      expect(names.fromKurrent('meridian/')).toBeNull();
      expect(names.fromKurrent('meridianx/default/order-1')).toBeNull();
    });

    it('keeps claims out of the event namespace and honours a custom namespace', () => {
      expect(names.claimStream(UUID)).toBe(`meridian-event-id/${UUID}`);
      expect(names.claimStream(UUID).startsWith(names.eventPrefix)).toBe(false);
      const custom = new KurrentStreamNames('acme-prod');
      expect(custom.toKurrent('default/order-1')).toBe('acme-prod/default/order-1');
      expect(custom.fromKurrent('meridian/default/order-1')).toBeNull();
    });

    it('rejects namespaces that would overlap system streams or other namespaces, and empty stream names', () => {
      expect(() => new KurrentStreamNames('')).toThrow(RangeError);
      expect(() => new KurrentStreamNames('$meridian')).toThrow(RangeError);
      expect(() => new KurrentStreamNames('a/b')).toThrow(RangeError);
      expect(() => names.toKurrent('')).toThrow(InvalidAppendError);
    });
  });

  describe('event ids', () => {
    it('keeps canonical lower-case UUIDs as they are', () => {
      expect(toKurrentEventId(UUID)).toBe(UUID);
    });

    it('derives a stable UUID v5 for other ids, different per id', () => {
      const derived = toKurrentEventId('evt-9');
      expect(isUuid(derived)).toBe(true);
      expect(uuidVersion(derived)).toBe(5);
      expect(toKurrentEventId('evt-9')).toBe(derived);
      expect(toKurrentEventId('evt-10')).not.toBe(derived);
      // KurrentDB answers in lower case, so an upper-case UUID is derived too (and restored from metadata).
      expect(toKurrentEventId(UUID.toUpperCase())).not.toBe(UUID);
      expect(() => toKurrentEventId('')).toThrow(InvalidAppendError);
    });

    it('gives claim records their own stable ids', () => {
      expect(claimRecordId(UUID)).toBe(claimRecordId(UUID));
      expect(claimRecordId(UUID)).not.toBe(UUID);
      expect(isUuid(claimRecordId(UUID))).toBe(true);
    });
  });

  describe('metadata', () => {
    const metadata = testMetadata({
      causationId: 'evt-6',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      zeta: { nested: [1, 'two', null, { deep: true }] },
      alpha: 'ünïcødé ✓ "quoted" \\ back\nline',
    });

    it('encodes as string values only (what atomic multi-stream appends accept)', () => {
      const encoded = encodeMetadata({ eventId: UUID, metadata, schemaVersion: 3 });
      expect(Object.values(encoded).every((v) => typeof v === 'string')).toBe(true);
      expect(encoded).toEqual({ [METADATA_KEY]: JSON.stringify(metadata), [SCHEMA_VERSION_KEY]: '3' });
    });

    it('round-trips metadata exactly (key order too), the schema version, and the event id', () => {
      // Through JSON, as the server stores it and the client parses it.
      const stored = JSON.parse(JSON.stringify(encodeMetadata({ eventId: UUID, metadata }))) as unknown;
      const decoded = decodeMetadata(stored, UUID);
      expect(JSON.stringify(decoded.metadata)).toBe(JSON.stringify(metadata));
      expect(decoded.schemaVersion).toBe(1);
      expect(decoded.eventId).toBe(UUID);
    });

    it('keeps an id that is not a UUID and gives it back on read', () => {
      const encoded = encodeMetadata({ eventId: 'evt-9', metadata });
      expect(encoded[ORIGINAL_EVENT_ID_KEY]).toBe('evt-9');
      expect(decodeMetadata(encoded, toKurrentEventId('evt-9')).eventId).toBe('evt-9');
    });

    it('ignores keys the server adds and rejects records without Meridian metadata', () => {
      const encoded = { '$schema.name': 'order.placed', ...encodeMetadata({ eventId: UUID, metadata, schemaVersion: 2 }) };
      expect(decodeMetadata(encoded, UUID)).toMatchObject({ schemaVersion: 2, eventId: UUID });
      expect(() => decodeMetadata(undefined, UUID)).toThrow(KurrentMappingError);
      expect(() => decodeMetadata(new Uint8Array([1]), UUID)).toThrow(KurrentMappingError);
      expect(() => decodeMetadata({ other: 'x' }, UUID)).toThrow(/meridian.metadata/);
      expect(() => decodeMetadata({ [METADATA_KEY]: '{}', [SCHEMA_VERSION_KEY]: '0' }, UUID)).toThrow(/schema version/);
    });

    it('stores undefined data as null and leaves other data alone', () => {
      expect(encodeData(undefined)).toBeNull();
      expect(encodeData('plain')).toBe('plain');
      const data = { a: [1] };
      expect(encodeData(data)).toBe(data);
    });
  });

  describe('revisions', () => {
    it('maps expectations to the client’s stream states', () => {
      expect(toKurrentExpectedState('any')).toBe('any');
      expect(toKurrentExpectedState('no_stream')).toBe('no_stream');
      expect(toKurrentExpectedState('stream_exists')).toBe('stream_exists');
      expect(toKurrentExpectedState(0)).toBe(0n);
      expect(toKurrentExpectedState(41)).toBe(41n);
      expect(() => toKurrentExpectedState(-1)).toThrow(InvalidAppendError);
      expect(() => toKurrentExpectedState(1.5)).toThrow(InvalidAppendError);
    });

    it('turns a known state into an exact expectation', () => {
      expect(exactExpectedState(null)).toBe('no_stream');
      expect(exactExpectedState(7)).toBe(7n);
    });

    it('reads revisions and actual states back', () => {
      expect(toRevision(3n)).toBe(3);
      expect(() => toRevision(2n ** 53n)).toThrow(KurrentMappingError);
      expect(toActualRevision('no_stream')).toBe('no_stream');
      expect(toActualRevision(5n)).toBe(5);
      // Deleted (-5) and tombstoned (-6) streams.
      expect(toActualRevision(-5n)).toBe('no_stream');
      expect(toActualRevision(undefined)).toBe('no_stream');
    });
  });

  describe('positions', () => {
    it('uses the commit position, and starts the next read exactly there', () => {
      expect(toGlobalPosition({ commit: 4096n, prepare: 4096n })).toBe(4096);
      expect(readAllStart(0)).toBe('start');
      expect(readAllStart(4096)).toEqual({ commit: 4096n, prepare: 4096n });
      expect(toGlobalPosition(readAllStart(4096) as { commit: bigint; prepare: bigint })).toBe(4096);
    });

    it('keeps the $all order: larger positions map to larger numbers', () => {
      const positions = [1n, 255n, 4096n, 2n ** 40n, 2n ** 53n - 1n].map((p) => toGlobalPosition({ commit: p, prepare: p }));
      expect(positions.every((p, i) => i === 0 || p > positions[i - 1])).toBe(true);
    });

    it('refuses positions that one number cannot order: legacy transactions, offsets past 2^53', () => {
      expect(() => toGlobalPosition({ commit: 5000n, prepare: 4800n })).toThrow(/legacy explicit transactions/);
      expect(() => toGlobalPosition({ commit: 2n ** 53n, prepare: 2n ** 53n })).toThrow(KurrentMappingError);
      expect(() => readAllStart(-1)).toThrow(RangeError);
      expect(() => readAllStart(1.5)).toThrow(RangeError);
    });
  });

  describe('filters', () => {
    /** The server evaluates the regex with .NET; these constructs mean the same in JavaScript. */
    const serverMatches = (filter: EventFilter, stream: string, type: string): boolean => {
      const server = toServerFilter(filter, names);
      const subject = server.filterOn === 'streamName' ? names.toKurrent(stream) : type;
      return 'regex' in server ? new RegExp(server.regex).test(subject) : server.prefixes.some((p) => subject.startsWith(p));
    };

    it('sends stream prefixes to the server, inside the namespace', () => {
      expect(toServerFilter({ streamPrefixes: ['default/order-', 'tenant2/'], types: ['x'] }, names)).toMatchObject({
        filterOn: 'streamName',
        prefixes: ['meridian/default/order-', 'meridian/tenant2/'],
      });
    });

    it('without prefixes, limits reads to the namespace', () => {
      for (const filter of [undefined, {}, { streamPrefixes: [], types: [] }]) {
        expect(toServerFilter(filter, names)).toMatchObject({ filterOn: 'streamName', prefixes: ['meridian/'] });
      }
    });

    it('turns types into an anchored regex: exact types exactly, `*` as a prefix, metacharacters literally', () => {
      const filter = { types: ['order.placed', 'invoice.s*', 'x%*', 'a+b'] };
      expect(toServerFilter(filter, names)).toMatchObject({ filterOn: 'eventType' });
      const match = (type: string) => serverMatches(filter, 'default/o-1', type);
      expect(match('order.placed')).toBe(true);
      expect(match('order.placed2')).toBe(false);
      expect(match('orderXplaced')).toBe(false);
      expect(match('invoice.sent')).toBe(true);
      expect(match('invoice.s')).toBe(true);
      expect(match('invoiceXsent')).toBe(false);
      expect(match('x%y')).toBe(true);
      expect(match('x_y')).toBe(false);
      expect(match('a+b')).toBe(true);
      expect(match('aab')).toBe(false);
      expect(escapeRegex('a.b*c(d)[e]{f}|g^h$i?j+k\\l')).toBe('a\\.b\\*c\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\?j\\+k\\\\l');
    });

    it('refines on the client what the server could not apply (types under a prefix filter)', () => {
      const event = (stream: string, type: string) => ({ streamName: stream, type }) as RecordedEvent;
      const filter = { streamPrefixes: ['default/order-'], types: ['order.*'] };
      expect(keepEvent(event('default/order-1', 'order.placed'), filter)).toBe(true);
      expect(keepEvent(event('default/order-1', 'user.joined'), filter)).toBe(false);
      expect(keepEvent(event('default/user-1', 'order.placed'), filter)).toBe(false);
      expect(keepEvent(event('default/user-1', 'order.placed'), undefined)).toBe(true);
    });
  });

  describe('recorded events', () => {
    it('converts a KurrentDB record into the port’s event', () => {
      expect(toRecordedEvent(record(), names)).toEqual({
        streamName: 'default/order-1',
        revision: 4,
        position: 4096,
        eventId: UUID,
        type: 'order.placed',
        data: { total: 40 },
        metadata: testMetadata(),
        schemaVersion: 2,
        recordedAt: '2026-03-01T12:00:01.234Z',
      } satisfies RecordedEvent);
    });

    it('restores an id that was not a UUID', () => {
      const derived = toKurrentEventId('evt-9');
      const converted = toRecordedEvent(record({ id: derived, metadata: encodeMetadata({ eventId: 'evt-9', metadata: testMetadata() }) }), names);
      expect(converted?.eventId).toBe('evt-9');
    });

    it('skips records that are not Meridian events', () => {
      expect(toRecordedEvent(record({ streamId: 'orders-1' }), names)).toBeNull();
      expect(toRecordedEvent(record({ streamId: names.claimStream(UUID), type: EVENT_ID_CLAIM_TYPE }), names)).toBeNull();
      expect(toRecordedEvent(record({ type: '$metadata' }), names)).toBeNull();
    });

    it('fails loudly on a Meridian record it cannot map', () => {
      expect(() => toRecordedEvent(record({ position: undefined }), names)).toThrow(/without a position/);
      expect(() => toRecordedEvent(record({ isJson: false, data: new Uint8Array([1]) }), names)).toThrow(/not JSON/);
      expect(() => toRecordedEvent(record({ metadata: undefined }), names)).toThrow(KurrentMappingError);
    });

    it('reads claims back, rejecting anything else', () => {
      expect(decodeClaim({ streamName: 'default/order-1', revision: 3, eventId: 'evt-9' })).toEqual({ streamName: 'default/order-1', revision: 3, eventId: 'evt-9' });
      expect(decodeClaim(null)).toBeNull();
      expect(decodeClaim({ streamName: 'default/order-1', revision: -1, eventId: 'evt-9' })).toBeNull();
      expect(decodeClaim({ streamName: 'default/order-1', revision: '3', eventId: 'evt-9' })).toBeNull();
    });
  });

  describe('errors', () => {
    const stream = 'default/order-1';

    it('turns WrongExpectedVersionError into the port’s conflict, keeping the caller’s expectation', () => {
      const wrong = new WrongExpectedVersionError(undefined, { streamName: names.toKurrent(stream), expected: 1n, current: 2n });
      expect(isAppendConflict(wrong)).toBe(true);
      const conflict = toConcurrencyConflict(wrong, stream, 1, names);
      expect(conflict).toBeInstanceOf(ConcurrencyConflictError);
      expect(conflict).toMatchObject({ streamName: stream, expected: 1, actual: 2 });
      const missing = new WrongExpectedVersionError(undefined, { streamName: names.toKurrent(stream), expected: 'stream_exists', current: 'no_stream' });
      expect(toConcurrencyConflict(missing, stream, 'stream_exists', names)).toMatchObject({ expected: 'stream_exists', actual: 'no_stream' });
    });

    it('turns a consistency violation on the stream itself into its conflict; a claim violation is left to a new lookup', () => {
      const violation = (violations: Array<{ streamName: string; actualState: bigint | 'no_stream' }>) =>
        Object.assign(new Error('violated'), { type: ErrorType.APPEND_CONSISTENCY_VIOLATION, violations });
      const own = violation([{ streamName: names.claimStream(UUID), actualState: 0n }, { streamName: names.toKurrent(stream), actualState: 6n }]);
      expect(isAppendConflict(own)).toBe(true);
      expect(toConcurrencyConflict(own, stream, 'no_stream', names)).toMatchObject({ streamName: stream, expected: 'no_stream', actual: 6 });
      const claimOnly = violation([{ streamName: names.claimStream(UUID), actualState: 0n }]);
      expect(toConcurrencyConflict(claimOnly, stream, 'any', names)).toBe(claimOnly);
    });

    it('leaves other errors alone and recognises a missing stream', () => {
      const other = new Error('unavailable');
      expect(isAppendConflict(other)).toBe(false);
      expect(toConcurrencyConflict(other, stream, 'any', names)).toBe(other);
      expect(isStreamNotFound(new StreamNotFoundError(undefined, names.toKurrent(stream)))).toBe(true);
      expect(isStreamNotFound(other)).toBe(false);
    });

    it('says which server version the adapter needs', () => {
      const translated = translateUnsupported(new UnsupportedError('appendRecords', '26.1'));
      expect(translated).toBeInstanceOf(Error);
      expect((translated as Error).message).toMatch(/KurrentDB 26\.1 or later/);
      const other = new Error('x');
      expect(translateUnsupported(other)).toBe(other);
    });
  });
});
