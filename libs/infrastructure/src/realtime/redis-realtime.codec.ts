import type { GlobalPosition, RecordedEvent } from '@meridian/domain';

/**
 * The messages the relay publishes on `<prefix>:events`, and their text form.
 *
 * - `batch`: committed events, in global order, that directly follow `after` (the last position
 *   of the relay's previous message). A subscriber that last saw a position below `after` missed
 *   a message.
 * - `gap`: events up to `after` may never have been published (a relay starting, or a batch it
 *   could not encode); the next batch follows `after`.
 *
 * Events usually come from JSON columns and are plain JSON, but an upcaster may produce any value;
 * a decoded event must deep-equal the one the store returned. Plain JSON would turn a Date into a
 * string and drop `undefined`, so values JSON cannot spell are tagged: `{"$t": kind, "v": …}`. A
 * plain object that itself has a `$t` key is wrapped (`{"$t":"obj","v":{…}}`) so it is never read
 * as a tag. Values with no faithful form (Map, class instances, functions) are refused.
 */
export const REALTIME_WIRE_VERSION = 1;

export type RealtimeWireMessage = RealtimeBatchMessage | RealtimeGapMessage;

export interface RealtimeBatchMessage {
  readonly kind: 'batch';
  /** Which relay run published it (diagnostics: overlapping relays show as two ids). */
  readonly relayId: string;
  readonly after: GlobalPosition;
  readonly events: readonly RecordedEvent[];
}

export interface RealtimeGapMessage {
  readonly kind: 'gap';
  readonly relayId: string;
  readonly after: GlobalPosition;
}

/** A value that cannot be encoded faithfully, or a message that is not a valid realtime message. */
export class RealtimeWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RealtimeWireError';
  }
}

const TAG = '$t';

export function encodeRealtimeMessage(message: RealtimeWireMessage): string {
  const body =
    message.kind === 'batch'
      ? { v: REALTIME_WIRE_VERSION, kind: message.kind, relayId: message.relayId, after: message.after, events: message.events.map((e) => toWire(e, 'event')) }
      : { v: REALTIME_WIRE_VERSION, kind: message.kind, relayId: message.relayId, after: message.after };
  return JSON.stringify(body);
}

/** Throws RealtimeWireError for anything that is not a well-formed message of this version. */
export function decodeRealtimeMessage(text: string): RealtimeWireMessage {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RealtimeWireError('realtime message is not JSON');
  }
  if (!isRecord(body)) throw new RealtimeWireError('realtime message is not an object');
  if (body.v !== REALTIME_WIRE_VERSION) throw new RealtimeWireError(`realtime message version ${String(body.v)} is not ${REALTIME_WIRE_VERSION}`);
  const { kind, relayId, after } = body;
  if (typeof relayId !== 'string') throw new RealtimeWireError('realtime message has no relayId');
  if (!isPosition(after)) throw new RealtimeWireError('realtime message has no valid `after` position');
  if (kind === 'gap') return { kind, relayId, after };
  if (kind !== 'batch') throw new RealtimeWireError(`unknown realtime message kind ${String(kind)}`);
  if (!Array.isArray(body.events)) throw new RealtimeWireError('realtime batch has no events');
  const events: RecordedEvent[] = [];
  let previous = after;
  for (const wire of body.events) {
    const event = fromWire(wire);
    if (!isRecordedEvent(event)) throw new RealtimeWireError('realtime batch holds something that is not a recorded event');
    // Subscribers rely on the order to skip duplicates by position.
    if (event.position <= previous) throw new RealtimeWireError(`realtime batch is out of order at position ${event.position}`);
    previous = event.position;
    events.push(event);
  }
  return { kind, relayId, after, events };
}

/** The JSON-ready form of `value`; see the file comment for the tags. */
function toWire(value: unknown, path: string): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Object.is(value, -0)) return { [TAG]: 'num', v: '-0' };
      return Number.isFinite(value) ? value : { [TAG]: 'num', v: String(value) };
    case 'undefined':
      return { [TAG]: 'undef' };
    case 'bigint':
      return { [TAG]: 'bigint', v: value.toString() };
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return Array.from(value, (item, i) => toWire(item, `${path}[${i}]`));
      if (value instanceof Date) {
        const time = value.getTime();
        return { [TAG]: 'date', v: Number.isNaN(time) ? null : time };
      }
      const prototype: unknown = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) {
        throw new RealtimeWireError(`${path} is a ${value.constructor?.name ?? 'non-plain object'}, which has no faithful encoding`);
      }
      // fromEntries, not assignment: a `__proto__` key stays an own property, as JSON.parse makes it.
      const entries = Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toWire(item, `${path}.${key}`)]));
      return Object.prototype.hasOwnProperty.call(value, TAG) ? { [TAG]: 'obj', v: entries } : entries;
    }
    default:
      throw new RealtimeWireError(`${path} is a ${typeof value}, which has no encoding`);
  }
}

function fromWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (!isRecord(value)) return value;
  if (!Object.prototype.hasOwnProperty.call(value, TAG)) return fromEntries(value);
  const tagged = value.v;
  switch (value[TAG]) {
    case 'obj':
      if (!isRecord(tagged)) break;
      return fromEntries(tagged);
    case 'undef':
      return undefined;
    case 'num':
      if (tagged === '-0') return -0;
      if (tagged === 'NaN' || tagged === 'Infinity' || tagged === '-Infinity') return Number(tagged);
      break;
    case 'bigint':
      if (typeof tagged === 'string' && /^-?\d+$/.test(tagged)) return BigInt(tagged);
      break;
    case 'date':
      if (tagged === null) return new Date(Number.NaN);
      if (typeof tagged === 'number') return new Date(tagged);
      break;
  }
  throw new RealtimeWireError(`unknown or malformed tag ${JSON.stringify(value[TAG])}`);
}

function fromEntries(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fromWire(item)]));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPosition(value: unknown): value is GlobalPosition {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isRecordedEvent(value: unknown): value is RecordedEvent {
  return (
    isRecord(value) &&
    isPosition(value.position) &&
    typeof value.streamName === 'string' &&
    typeof value.revision === 'number' &&
    typeof value.eventId === 'string' &&
    typeof value.type === 'string' &&
    typeof value.schemaVersion === 'number' &&
    typeof value.recordedAt === 'string' &&
    isRecord(value.metadata)
  );
}
