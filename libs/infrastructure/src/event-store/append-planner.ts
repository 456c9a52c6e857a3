import {
  ConcurrencyConflictError,
  type AppendRequest,
  type AppendResult,
  type ExpectedRevision,
  type NewEvent,
} from '@meridian/domain';

/**
 * The append rules of the event store port, shared by every adapter so they cannot drift apart:
 * expected-revision checks, idempotent replays by (stream, eventId), partial-overlap and
 * cross-stream conflicts, and the ordering of several requests in one group commit.
 *
 * An adapter looks up the current state (inside its write transaction), asks `planAppends` which
 * rows to write, inserts them, then turns the plan into results with the positions it got.
 */

/** Where an already stored event lives. */
export interface StoredEventRef {
  readonly streamName: string;
  readonly revision: number;
  readonly position: number;
}

/** The last event of a stream. */
export interface StreamHead {
  readonly revision: number;
  readonly position: number;
}

/** Reads of the committed state; called during planning, inside the adapter's write transaction. */
export interface AppendLookup {
  streamHead(streamName: string): StreamHead | null;
  storedEvent(eventId: string): StoredEventRef | undefined;
}

/** A position that is stored already, or the one a planned row will get on insert. */
export type PositionRef = { readonly stored: number } | { readonly row: number };

export interface PlannedRow {
  readonly streamName: string;
  readonly revision: number;
  readonly event: NewEvent;
}

export interface PlannedResult {
  readonly streamName: string;
  readonly nextExpectedRevision: number;
  readonly duplicate: boolean;
  readonly position: PositionRef;
}

export interface AppendPlan {
  /** Rows to insert, in the order their positions must be allocated. */
  readonly rows: readonly PlannedRow[];
  readonly results: readonly PlannedResult[];
}

/** Thrown for malformed requests (a caller bug, not a conflict): nothing is written. */
export class InvalidAppendError extends Error {
  readonly code = 'INVALID_APPEND';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAppendError';
  }
}

interface PendingEvent {
  readonly streamName: string;
  readonly revision: number;
  readonly position: PositionRef;
}

function expectationHolds(expected: ExpectedRevision, current: number | null): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return current === null;
    case 'stream_exists':
      return current !== null;
    default:
      return current === expected;
  }
}

function validate(request: AppendRequest): void {
  const { streamName, expected, events } = request;
  if (typeof streamName !== 'string' || streamName.length === 0) {
    throw new InvalidAppendError('streamName must be a non-empty string');
  }
  if (typeof expected === 'number' && (!Number.isInteger(expected) || expected < 0)) {
    throw new InvalidAppendError(`expected revision must be an integer >= 0, got ${expected}`);
  }
  const seen = new Set<string>();
  for (const event of events) {
    if (typeof event.eventId !== 'string' || event.eventId.length === 0) {
      throw new InvalidAppendError(`event ids must be non-empty strings (stream "${streamName}")`);
    }
    if (typeof event.type !== 'string' || event.type.length === 0) {
      throw new InvalidAppendError(`event types must be non-empty strings (event ${event.eventId})`);
    }
    if (event.schemaVersion !== undefined && (!Number.isInteger(event.schemaVersion) || event.schemaVersion < 1)) {
      throw new InvalidAppendError(`schemaVersion must be an integer >= 1 (event ${event.eventId})`);
    }
    if (seen.has(event.eventId)) {
      throw new InvalidAppendError(`event id ${event.eventId} appears twice in one append to "${streamName}"`);
    }
    seen.add(event.eventId);
  }
}

/**
 * Applies `requests` in order against `lookup` plus what earlier requests of the same batch
 * planned, so requests for the same stream see each other. Throws the conflict of the first
 * request that does not hold; then nothing may be written.
 */
export function planAppends(requests: readonly AppendRequest[], lookup: AppendLookup): AppendPlan {
  const rows: PlannedRow[] = [];
  const results: PlannedResult[] = [];
  // State created by earlier requests of this batch, layered over the committed state.
  const streams = new Map<string, { revision: number; position: PositionRef }>();
  const pending = new Map<string, PendingEvent>();

  const headOf = (streamName: string): { revision: number; position: PositionRef } | null => {
    const planned = streams.get(streamName);
    if (planned) return planned;
    const head = lookup.streamHead(streamName);
    return head ? { revision: head.revision, position: { stored: head.position } } : null;
  };
  const eventOf = (eventId: string): PendingEvent | undefined => {
    const planned = pending.get(eventId);
    if (planned) return planned;
    const stored = lookup.storedEvent(eventId);
    return stored ? { streamName: stored.streamName, revision: stored.revision, position: { stored: stored.position } } : undefined;
  };

  for (const request of requests) {
    validate(request);
    const { streamName, events, expected } = request;
    const head = headOf(streamName);
    const current = head ? head.revision : null;
    const conflict = (reason?: string) => new ConcurrencyConflictError(streamName, expected, current ?? 'no_stream', reason);

    const found = events.map((e) => eventOf(e.eventId));
    const foundCount = found.reduce((n, f) => (f ? n + 1 : n), 0);

    if (foundCount === 0) {
      if (!expectationHolds(expected, current)) throw conflict();
      if (events.length === 0) {
        results.push({ streamName, nextExpectedRevision: current ?? -1, duplicate: false, position: head ? head.position : { stored: 0 } });
        continue;
      }
      let revision = current ?? -1;
      for (const event of events) {
        revision++;
        const position: PositionRef = { row: rows.length };
        rows.push({ streamName, revision, event });
        pending.set(event.eventId, { streamName, revision, position });
      }
      const last: PositionRef = { row: rows.length - 1 };
      streams.set(streamName, { revision, position: last });
      results.push({ streamName, nextExpectedRevision: revision, duplicate: false, position: last });
      continue;
    }

    if (foundCount < events.length) throw conflict('some of the event ids are already stored, others are not');
    const stored = found as PendingEvent[];
    const elsewhere = stored.find((s) => s.streamName !== streamName);
    if (elsewhere) throw conflict(`event id already stored in stream "${elsewhere.streamName}"`);
    const first = stored[0].revision;
    if (stored.some((s, i) => s.revision !== first + i)) {
      throw conflict('the event ids are stored, but not consecutively in this order');
    }
    // A replay is a duplicate only at the place the original append went to.
    const samePlace =
      typeof expected === 'number' ? first === expected + 1 : expected === 'no_stream' ? first === 0 : true;
    if (!samePlace) throw conflict(`the event ids are stored from revision ${first}`);
    const last = stored[stored.length - 1];
    results.push({ streamName, nextExpectedRevision: last.revision, duplicate: true, position: last.position });
  }
  return { rows, results };
}

/** Results of a plan, given the positions its rows got (`rowPositions[i]` for `plan.rows[i]`). */
export function resolveResults(plan: AppendPlan, rowPositions: ArrayLike<number>): AppendResult[] {
  return plan.results.map((r) => ({
    streamName: r.streamName,
    nextExpectedRevision: r.nextExpectedRevision,
    duplicate: r.duplicate,
    position: 'stored' in r.position ? r.position.stored : rowPositions[r.position.row],
  }));
}
