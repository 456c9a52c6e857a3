import type { AppendStreamState, CurrentStreamState, Filter, Position, RecordedEvent as KurrentRecordedEvent } from '@kurrent/kurrentdb-client';
import { v5 as uuidv5, validate as isUuid } from 'uuid';
import {
  ConcurrencyConflictError,
  matchesFilter,
  type EventFilter,
  type EventMetadata,
  type ExpectedRevision,
  type GlobalPosition,
  type NewEvent,
  type RecordedEvent,
} from '@meridian/domain';
import { InvalidAppendError } from './append-planner';

/*
 * Pure translation between the EventStore port and KurrentDB (no IO, no client at run time: only
 * its types are imported, so the unit tests never load the gRPC client or its native bridge).
 *
 * Stream names. Any non-empty UTF-8 string is a KurrentDB stream name; names starting with `$` are
 * system streams. Meridian names (`<tenant>/<category>-<id>`) are therefore valid as they are, but
 * a tenant called `$x` would land in system space, and other applications may share the database.
 * So every Meridian stream lives under a namespace: `default/order-1` is stored as
 * `meridian/default/order-1`. KurrentDB's `$by_category` projection splits on the first `-`, so
 * native tooling still sees one category per Meridian tenant and category (`meridian/default/order`).
 *
 * Event ids. KurrentDB requires a UUID per event. Meridian ids are UUIDs in practice but the port
 * only promises non-empty strings, so an id that is not a lower-case canonical UUID is replaced by
 * a UUID v5 derived from it (deterministic: a retry maps to the same UUID) and the original is kept
 * in the metadata, from where reads restore it.
 *
 * Global uniqueness of event ids. KurrentDB has no index by event id: its idempotency check only
 * covers recent writes to one stream. Each event therefore also writes a claim record to its own
 * stream `meridian-event-id/<uuid>`, in the same atomic append, with the check "this claim stream
 * does not exist". The claims answer `findExistingEventIds` and make a reused id a conflict. They
 * are outside the event namespace, so reads and subscriptions never see them.
 *
 * Metadata. Atomic multi-stream appends (appendRecords) accept only string-to-string metadata, so
 * the Meridian metadata is stored JSON-encoded under one key, with the schema version (and the
 * original event id when it was not a UUID) next to it. Decoding returns the metadata object as it
 * was appended, key order included.
 *
 * Positions. A KurrentDB position is a pair (commit, prepare) of 64-bit log offsets; they differ
 * only for events written in the legacy explicit transactions of the TCP API, which the gRPC API
 * cannot write. Meridian's GlobalPosition is the commit position as a JS number: strictly
 * increasing in `$all` order, and since `$all` only exposes committed records in log order, once P
 * has been read nothing below P can appear later. An event whose prepare position differs from its
 * commit position (a legacy transaction) cannot be given one number that keeps that order, so it is
 * rejected loudly rather than mis-ordered. Offsets above 2^53 (9 PB of log) are rejected too.
 */

export const DEFAULT_KURRENT_NAMESPACE = 'meridian';

/** Metadata keys the adapter owns (all values are strings, as appendRecords requires). */
export const METADATA_KEY = 'meridian.metadata';
export const SCHEMA_VERSION_KEY = 'meridian.schema-version';
export const ORIGINAL_EVENT_ID_KEY = 'meridian.event-id';

/** Type of the claim records (never visible through the port). */
export const EVENT_ID_CLAIM_TYPE = 'meridian.event-id-claim';

/** Namespace of the derived UUIDs (v5). Fixed forever: changing it would break idempotent retries. */
export const MERIDIAN_EVENT_ID_NAMESPACE = '5b0c8c2e-5f44-4d7e-9a43-6d1f2f0e8a11';

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Where Meridian's streams and claims live in a KurrentDB database. */
export class KurrentStreamNames {
  /** Prefix of every Meridian event stream. */
  readonly eventPrefix: string;
  /** Prefix of the event id claim streams; it does not start with `eventPrefix`. */
  readonly claimPrefix: string;

  constructor(namespace: string = DEFAULT_KURRENT_NAMESPACE) {
    if (namespace.length === 0 || namespace.startsWith('$') || namespace.includes('/')) {
      throw new RangeError(`KurrentDB namespace must be non-empty, must not start with "$" and must not contain "/", got "${namespace}"`);
    }
    this.eventPrefix = `${namespace}/`;
    this.claimPrefix = `${namespace}-event-id/`;
  }

  /** The KurrentDB stream of a Meridian stream. */
  toKurrent(streamName: string): string {
    if (typeof streamName !== 'string' || streamName.length === 0) {
      throw new InvalidAppendError('streamName must be a non-empty string');
    }
    return this.eventPrefix + streamName;
  }

  /** The Meridian stream of a KurrentDB stream, or null when it is not one of Meridian's event streams. */
  fromKurrent(kurrentStream: string): string | null {
    if (!kurrentStream.startsWith(this.eventPrefix) || kurrentStream.length === this.eventPrefix.length) return null;
    return kurrentStream.slice(this.eventPrefix.length);
  }

  /** The claim stream of an event (keyed by its KurrentDB UUID). */
  claimStream(kurrentEventId: string): string {
    return this.claimPrefix + kurrentEventId;
  }
}

/** The KurrentDB UUID of a Meridian event id: the id itself when it is a canonical lower-case UUID. */
export function toKurrentEventId(eventId: string): string {
  if (typeof eventId !== 'string' || eventId.length === 0) {
    throw new InvalidAppendError('event ids must be non-empty strings');
  }
  return isCanonicalUuid(eventId) ? eventId : uuidv5(eventId, MERIDIAN_EVENT_ID_NAMESPACE);
}

function isCanonicalUuid(value: string): boolean {
  // KurrentDB hands UUIDs back in lower case: an upper-case id would not round-trip by itself.
  return CANONICAL_UUID.test(value) && isUuid(value);
}

/** UUID of the claim record of an event: derived, so a retried append sends the same record ids. */
export function claimRecordId(kurrentEventId: string): string {
  return uuidv5(`claim:${kurrentEventId}`, MERIDIAN_EVENT_ID_NAMESPACE);
}

export type KurrentMetadata = Record<string, string>;

export function encodeMetadata(event: Pick<NewEvent, 'eventId' | 'metadata' | 'schemaVersion'>): KurrentMetadata {
  const encoded: KurrentMetadata = {
    [METADATA_KEY]: JSON.stringify(event.metadata),
    [SCHEMA_VERSION_KEY]: String(event.schemaVersion ?? 1),
  };
  if (!isCanonicalUuid(event.eventId)) encoded[ORIGINAL_EVENT_ID_KEY] = event.eventId;
  return encoded;
}

export interface DecodedMetadata {
  readonly metadata: EventMetadata;
  readonly schemaVersion: number;
  readonly eventId: string;
}

/** Thrown when a record in Meridian's namespace does not carry Meridian's metadata. */
export class KurrentMappingError extends Error {
  readonly code = 'KURRENTDB_MAPPING';
  constructor(message: string) {
    super(message);
    this.name = 'KurrentMappingError';
  }
}

export function decodeMetadata(raw: unknown, kurrentEventId: string): DecodedMetadata {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new KurrentMappingError(`event ${kurrentEventId} has no JSON metadata object`);
  }
  const fields = raw as Record<string, unknown>;
  const json = fields[METADATA_KEY];
  if (typeof json !== 'string') {
    throw new KurrentMappingError(`event ${kurrentEventId} has no "${METADATA_KEY}" metadata`);
  }
  const version = fields[SCHEMA_VERSION_KEY];
  const schemaVersion = version === undefined ? 1 : Number(version);
  if (!Number.isInteger(schemaVersion) || schemaVersion < 1) {
    throw new KurrentMappingError(`event ${kurrentEventId} has an invalid schema version ${String(version)}`);
  }
  const original = fields[ORIGINAL_EVENT_ID_KEY];
  return {
    metadata: JSON.parse(json) as EventMetadata,
    schemaVersion,
    eventId: typeof original === 'string' && original.length > 0 ? original : kurrentEventId,
  };
}

/** JSON body of an event. `undefined` has no JSON spelling; it is stored as null, as the SQL adapters do. */
export function encodeData(data: unknown): unknown {
  return data === undefined ? null : data;
}

export function toKurrentExpectedState(expected: ExpectedRevision): AppendStreamState {
  switch (expected) {
    case 'any':
    case 'no_stream':
    case 'stream_exists':
      return expected;
    default:
      if (!Number.isInteger(expected) || expected < 0) {
        throw new InvalidAppendError(`expected revision must be an integer >= 0, got ${String(expected)}`);
      }
      return BigInt(expected);
  }
}

/** The expected state of a stream whose current revision is known (`null`: it does not exist). */
export function exactExpectedState(revision: number | null): AppendStreamState {
  return revision === null ? 'no_stream' : BigInt(revision);
}

export function toRevision(revision: bigint): number {
  if (revision < 0n || revision > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new KurrentMappingError(`stream revision ${revision} is outside the safe integer range`);
  }
  return Number(revision);
}

/** A KurrentDB current stream state as the port's `actual` ('no_stream' or a revision). */
export function toActualRevision(state: CurrentStreamState | undefined): number | 'no_stream' {
  // Deleted (-5) and tombstoned (-6) streams have no revision a writer could expect.
  if (state === undefined || state === 'no_stream' || state < 0n) return 'no_stream';
  return toRevision(state);
}

export function toGlobalPosition(position: Position): GlobalPosition {
  if (position.commit !== position.prepare) {
    throw new KurrentMappingError(
      `event at commit position ${position.commit} has prepare position ${position.prepare}: events of legacy explicit transactions cannot be mapped to one global position`,
    );
  }
  if (position.commit < 0n || position.commit > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new KurrentMappingError(`commit position ${position.commit} is outside the safe integer range`);
  }
  return Number(position.commit);
}

/** Where a forward `$all` read starts to see everything after `after` (the read is inclusive). */
export function readAllStart(after: GlobalPosition): 'start' | Position {
  if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`position must be a non-negative integer, got ${after}`);
  if (after === 0) return 'start';
  const at = BigInt(after);
  return { commit: at, prepare: at };
}

/** Escapes `text` for a .NET regular expression (the server's filter engine). */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

/**
 * The server-side filter for a port filter. KurrentDB takes one filter, on stream names or on event
 * types: stream prefixes go to the server (mapped into the namespace); otherwise a type filter
 * becomes an anchored regex; otherwise the namespace prefix alone. The server filter only narrows
 * the read: `keepEvent` applies the whole port filter to what comes back, so the result is exact
 * whichever half the server applied.
 */
export function toServerFilter(filter: EventFilter | undefined, names: KurrentStreamNames): Filter {
  const prefixes = filter?.streamPrefixes ?? [];
  const types = filter?.types ?? [];
  if (prefixes.length > 0) {
    return { filterOn: 'streamName', checkpointInterval: 1, prefixes: prefixes.map((p) => names.eventPrefix + p) };
  }
  if (types.length > 0) {
    const alternatives = types.map((t) => (t.endsWith('*') ? `${escapeRegex(t.slice(0, -1))}.*` : escapeRegex(t)));
    return { filterOn: 'eventType', checkpointInterval: 1, regex: `^(?:${alternatives.join('|')})$` };
  }
  return { filterOn: 'streamName', checkpointInterval: 1, prefixes: [names.eventPrefix] };
}

/** True when a recorded event belongs to the port's result: a Meridian stream, matching the filter. */
export function keepEvent(event: RecordedEvent, filter: EventFilter | undefined): boolean {
  return matchesFilter(filter, event.streamName, event.type);
}

/**
 * A KurrentDB record as a Meridian event, or null when it is not a Meridian event (another
 * application's stream, a claim, a system record). Needs the record's position: `$all` reads always
 * carry it; stream reads carry it on the server versions this adapter supports.
 */
export function toRecordedEvent(record: KurrentRecordedEvent, names: KurrentStreamNames): RecordedEvent | null {
  const streamName = names.fromKurrent(record.streamId);
  if (streamName === null || record.type.startsWith('$')) return null;
  if (!record.position) {
    throw new KurrentMappingError(`KurrentDB returned event ${record.id} of "${record.streamId}" without a position (server too old?)`);
  }
  if (!record.isJson) throw new KurrentMappingError(`event ${record.id} of "${record.streamId}" is not JSON`);
  const decoded = decodeMetadata(record.metadata, record.id);
  return {
    streamName,
    revision: toRevision(record.revision),
    position: toGlobalPosition(record.position),
    eventId: decoded.eventId,
    type: record.type,
    data: record.data,
    metadata: decoded.metadata,
    schemaVersion: decoded.schemaVersion,
    recordedAt: record.created.toISOString(),
  };
}

export interface ClaimData {
  readonly streamName: string;
  readonly revision: number;
  readonly eventId: string;
}

/** Reads a claim record's body back; null when it is not one (a foreign write to a claim stream). */
export function decodeClaim(data: unknown): ClaimData | null {
  if (data === null || typeof data !== 'object') return null;
  const { streamName, revision, eventId } = data as Record<string, unknown>;
  if (typeof streamName !== 'string' || typeof eventId !== 'string' || !Number.isSafeInteger(revision) || (revision as number) < 0) return null;
  return { streamName, revision: revision as number, eventId };
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Error `type`s of the client (ErrorType) the adapter reacts to; strings, so no client import. */
const WRONG_EXPECTED_VERSION = 'wrong-expected-version';
const CONSISTENCY_VIOLATION = 'append-consistency-violation';
const STREAM_NOT_FOUND = 'stream-not-found';
const UNSUPPORTED = 'unsupported';

function errorType(error: unknown): unknown {
  return error instanceof Error ? (error as { type?: unknown }).type : undefined;
}

/** A failed expectation of an atomic append: the state moved between lookup and write. */
export function isAppendConflict(error: unknown): boolean {
  const type = errorType(error);
  return type === WRONG_EXPECTED_VERSION || type === CONSISTENCY_VIOLATION;
}

export function isStreamNotFound(error: unknown): boolean {
  return errorType(error) === STREAM_NOT_FOUND;
}

/** Makes the client's "server too old" error say what the adapter needs. */
export function translateUnsupported(error: unknown): unknown {
  if (errorType(error) !== UNSUPPORTED) return error;
  return new Error(
    `KurrentDbEventStore needs KurrentDB 26.1 or later (atomic multi-stream appendRecords): ${error instanceof Error ? error.message : String(error)}`,
  );
}

/**
 * The port's conflict for a WrongExpectedVersionError (single-stream append) or for an
 * AppendConsistencyViolationError whose violation is on `streamName`'s own stream, with `expected`
 * as the caller gave it. Anything else (a violation on a claim stream only says "some id is
 * stored", not the stream's revision) is returned unchanged: the adapter then looks the state up
 * again and lets the append planner name the conflict.
 */
export function toConcurrencyConflict(error: unknown, streamName: string, expected: ExpectedRevision, names: KurrentStreamNames): unknown {
  const type = errorType(error);
  if (type === WRONG_EXPECTED_VERSION) {
    const actual = (error as { actualState?: CurrentStreamState }).actualState;
    return new ConcurrencyConflictError(streamName, expected, toActualRevision(actual));
  }
  if (type === CONSISTENCY_VIOLATION) {
    const violations = (error as { violations?: ReadonlyArray<{ streamName: string; actualState: CurrentStreamState }> }).violations ?? [];
    const kurrentStream = names.toKurrent(streamName);
    const own = violations.find((v) => v.streamName === kurrentStream);
    if (own) return new ConcurrencyConflictError(streamName, expected, toActualRevision(own.actualState));
  }
  return error;
}
