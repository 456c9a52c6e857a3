import { categoryPrefix, matchesFilter, parseStreamName, streamName, type EventFilter, type RecordedEvent } from '@meridian/domain';

/**
 * A channel a WebSocket client subscribes to, always scoped to the client's tenant: the tenant
 * comes from the credentials, never from the channel name, so no channel reaches another tenant.
 */
export interface RealtimeChannel {
  /** The name as the client wrote it; every message about the channel repeats it. */
  readonly name: string;
  /** Pushed down to the store when replaying: matches a superset of `matches`. */
  readonly filter: EventFilter;
  /** The exact rule. Replay and live delivery both apply it. */
  matches(event: RecordedEvent): boolean;
}

export type ChannelParseResult = { readonly ok: true; readonly channel: RealtimeChannel } | { readonly ok: false; readonly detail: string };

/** Same shape as client-supplied aggregate ids and correlation ids elsewhere in the API. */
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Any printable text without spaces or control characters. */
const TYPE_PREFIX = /^[^\s\p{C}]{1,256}$/u;

const CHANNEL_FORMS = '"events", "events:<type-prefix>", "agent:<id>", "conversation:<id>" or "chain:<correlationId>"';

export function parseChannel(name: string, tenantId: string): ChannelParseResult {
  const colon = name.indexOf(':');
  const kind = colon < 0 ? name : name.slice(0, colon);
  const argument = colon < 0 ? null : name.slice(colon + 1);

  switch (kind) {
    case 'events': {
      // Ingested domain events only: one stream per subject, or per source when there is none.
      const ingested: EventFilter = { streamPrefixes: [categoryPrefix('entity', tenantId), categoryPrefix('source', tenantId)] };
      if (argument === null) return ok(name, ingested, (e) => matchesFilter(ingested, e.streamName, e.type));
      // `events:order.` and `events:order.*` mean the same: types starting with "order.".
      const prefix = argument.endsWith('*') ? argument.slice(0, -1) : argument;
      if (!TYPE_PREFIX.test(prefix)) return invalid(`"${name}": the type prefix after "events:" must be 1-256 printable characters without spaces.`);
      const filter: EventFilter = { ...ingested, types: [`${prefix}*`] };
      return ok(name, filter, (e) => matchesFilter(filter, e.streamName, e.type));
    }
    case 'agent':
    case 'conversation': {
      if (argument === null || !ID.test(argument)) return invalid(`"${name}": expected "${kind}:<id>" with an id of 1-128 characters from A-Z a-z 0-9 . _ : -.`);
      const stream = streamName(kind, argument, tenantId);
      // The prefix also matches longer ids ("agent-a1" for "agent-a"): the exact comparison decides.
      return ok(name, { streamPrefixes: [stream] }, (e) => e.streamName === stream);
    }
    case 'chain': {
      if (argument === null || !ID.test(argument)) return invalid(`"${name}": expected "chain:<correlationId>" with 1-128 characters from A-Z a-z 0-9 . _ : -.`);
      const tenantStreams = `${tenantId}/`;
      // Every stream of the tenant can carry the chain; API key records are never shown (they
      // hold key hashes and are not part of any chain a client follows).
      return ok(name, { streamPrefixes: [tenantStreams] }, (e) =>
        e.metadata.correlationId === argument && e.streamName.startsWith(tenantStreams) && parseStreamName(e.streamName)?.category !== 'apikey',
      );
    }
    default:
      return invalid(`Unknown channel "${name}": expected ${CHANNEL_FORMS}.`);
  }
}

function ok(name: string, filter: EventFilter, matches: (event: RecordedEvent) => boolean): ChannelParseResult {
  return { ok: true, channel: { name, filter, matches } };
}

function invalid(detail: string): ChannelParseResult {
  return { ok: false, detail };
}
