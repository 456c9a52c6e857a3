import type { CloudEvent } from '@meridian/domain';
import {
  CLOUD_EVENTS_BATCH_JSON,
  CLOUD_EVENTS_JSON,
  CLOUD_EVENTS_MEDIA_TYPE_PREFIX,
  CloudEventError,
  isJsonMediaType,
  isTextMediaType,
  mediaTypeOf,
  parseCloudEvent,
  parseCloudEventBatch,
} from '../cloud-events';
import type { ValidationIssue } from '../validation/schema-validator';

/** A header as Kafka clients hand it over: repeated headers come as an array. */
export type KafkaHeaderValue = Buffer | string | ReadonlyArray<Buffer | string> | undefined;

/** The parts of a consumed Kafka message the binding reads (a kafkajs `KafkaMessage` fits). */
export interface KafkaCloudEventMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, KafkaHeaderValue>>;
}

export type KafkaContentMode = 'structured' | 'batched' | 'binary';

export interface DecodedKafkaCloudEvents {
  /** At least one event, in the order the message carries them. */
  readonly events: CloudEvent[];
  readonly mode: KafkaContentMode;
  /** The message's W3C `traceparent` header, when present and well-formed. */
  readonly traceparent?: string;
}

const CE_PREFIX = 'ce_';
const CONTENT_TYPE = 'content-type';
const TRACEPARENT = 'traceparent';
/** Attributes that binary mode carries elsewhere than in a `ce_` header. */
const NOT_IN_HEADERS: Readonly<Record<string, string>> = {
  data: 'data travels in the message value',
  data_base64: 'data travels in the message value',
  datacontenttype: "the data's media type travels in the content-type header",
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The CloudEvents Kafka protocol binding 1.0, receiving side: one Kafka message to the
 * CloudEvents it carries. Header names are matched case-insensitively.
 *
 * The mode is chosen as the binding says, from the `content-type` header first:
 * - `application/cloudevents+json` (parameters such as `charset` allowed) — structured mode: the
 *   value is one event in the JSON event format; any `ce_` headers beside it are ignored.
 * - `application/cloudevents-batch+json` — batched: the value is a JSON array of events, valid all
 *   or none. (The Kafka binding defines no batch mode; this is the JSON format's batch, accepted as
 *   on the HTTP route.) Any other `application/cloudevents…` format is `UNSUPPORTED_CONTENT_TYPE`.
 * - any `ce_` header — binary mode: attributes from the `ce_` headers (UTF-8, not percent-encoded),
 *   other `ce_*` headers are extensions, `content-type` is `datacontenttype`, the value is `data`:
 *   parsed when the content type is JSON (`application/json`, `*+json`; `MALFORMED_JSON` if it is
 *   not), UTF-8 text for `text/*` and `application/xml`, base64 text otherwise (as on the HTTP
 *   route). Without a content type the value is parsed as JSON when it parses, else kept as UTF-8
 *   text (base64 if it is not UTF-8), and `datacontenttype` stays absent. A null value (a
 *   tombstone) or an empty one without content type is an event without data.
 * - no `ce_` header, and no content type or `application/json` — a plain JSON value read as the
 *   structured event it must be: an object is one event, an array a batch. Anything else there
 *   is not an event: `MALFORMED_JSON` when it does not parse, `INVALID_CLOUD_EVENT` when it is a
 *   JSON scalar, `EMPTY_MESSAGE` when there is no value at all (a bare tombstone).
 * - any other content type without `ce_` headers: `UNSUPPORTED_CONTENT_TYPE`.
 *
 * The Kafka key is not mapped to any attribute: the binding forbids a key mapping from adding one
 * (a `partitionkey` extension is kept only when the producer sent it, as `ce_partitionkey` or in
 * the event). Producers key `meridian.inbound` by subject for per-subject order; an event without
 * `subject` is still not given the key as subject, so it lands in its source's stream exactly as
 * the same event sent over HTTP would.
 *
 * @throws CloudEventError with code `INVALID_CLOUD_EVENT`, `UNSUPPORTED_CONTENT_TYPE`,
 *   `MALFORMED_JSON` or `EMPTY_MESSAGE` and a detail naming the bad header or field.
 */
export function decodeKafkaCloudEvents(message: KafkaCloudEventMessage): DecodedKafkaCloudEvents {
  const headers = new KafkaHeaders(message.headers ?? {});
  const traceparent = kafkaTraceparent(message.headers ?? {});
  const decoded = decode(message.value, headers);
  return traceparent !== undefined ? { ...decoded, traceparent } : decoded;
}

/**
 * The `traceparent` header (W3C Trace Context) when it is well-formed, else undefined: like any
 * trace-context receiver, a malformed one is dropped (a new trace starts) rather than failing the
 * message. Exported for callers that need it for a message that did not decode.
 */
export function kafkaTraceparent(headers: Readonly<Record<string, KafkaHeaderValue>>): string | undefined {
  let value: string | undefined;
  try {
    value = new KafkaHeaders(headers).text(TRACEPARENT);
  } catch {
    return undefined;
  }
  return value !== undefined && isTraceparent(value.trim()) ? value.trim() : undefined;
}

function decode(value: Buffer | null, headers: KafkaHeaders): Omit<DecodedKafkaCloudEvents, 'traceparent'> {
  let contentType: string | undefined;
  try {
    contentType = headers.text(CONTENT_TYPE);
  } catch (error) {
    if (!(error instanceof HeaderError)) throw error;
    const issue = { path: '/datacontenttype', message: error.message };
    throw new CloudEventError('INVALID_CLOUD_EVENT', `The message's content-type header ${error.message}.`, [issue]);
  }
  const media = mediaTypeOf(contentType);
  if (media.startsWith(CLOUD_EVENTS_MEDIA_TYPE_PREFIX)) {
    if (media === CLOUD_EVENTS_JSON) return { mode: 'structured', events: [structured(parseJson(value, 'the structured event'))] };
    if (media === CLOUD_EVENTS_BATCH_JSON) return { mode: 'batched', events: batched(parseJson(value, 'the event batch')) };
    throw new CloudEventError(
      'UNSUPPORTED_CONTENT_TYPE',
      `The event format ${media} is not supported: send ${CLOUD_EVENTS_JSON}, ${CLOUD_EVENTS_BATCH_JSON}, or binary mode with ce_* headers.`,
    );
  }
  if (headers.hasPrefix(CE_PREFIX)) return { mode: 'binary', events: [binary(value, contentType, headers)] };
  if (contentType === undefined || media === 'application/json') {
    if (value === null || (value.length === 0 && contentType === undefined)) {
      throw new CloudEventError('EMPTY_MESSAGE', 'The message has no value and no ce_* headers: it carries no event.');
    }
    const json = parseJson(value, 'a message without ce_* headers or a CloudEvents content-type (read as a JSON event)');
    if (Array.isArray(json)) return { mode: 'batched', events: batched(json) };
    return { mode: 'structured', events: [structured(json)] };
  }
  throw new CloudEventError(
    'UNSUPPORTED_CONTENT_TYPE',
    `content-type ${media} without ce_* headers is not a CloudEvent: send ${CLOUD_EVENTS_JSON}, ${CLOUD_EVENTS_BATCH_JSON}, or binary mode with ce_* headers.`,
  );
}

function structured(json: unknown): CloudEvent {
  if (Array.isArray(json)) throw CloudEventError.invalid([{ path: '', message: `structured mode carries one event; use ${CLOUD_EVENTS_BATCH_JSON} for a batch` }]);
  if (typeof json !== 'object' || json === null) throw CloudEventError.invalid([{ path: '', message: 'must be a JSON object (one event)' }]);
  return parseCloudEvent(json);
}

function batched(json: unknown): CloudEvent[] {
  if (!Array.isArray(json)) throw CloudEventError.invalid([{ path: '', message: 'batched mode carries a JSON array of events' }]);
  return parseCloudEventBatch(json);
}

function binary(value: Buffer | null, contentType: string | undefined, headers: KafkaHeaders): CloudEvent {
  const attributes: Record<string, unknown> = {};
  const issues: ValidationIssue[] = [];
  for (const name of headers.names()) {
    if (!name.startsWith(CE_PREFIX)) continue;
    const attribute = name.slice(CE_PREFIX.length);
    if (NOT_IN_HEADERS[attribute] !== undefined) {
      issues.push({ path: `/${attribute}`, message: `must not be a header (${NOT_IN_HEADERS[attribute]})` });
      continue;
    }
    try {
      const text = headers.text(name);
      if (text !== undefined) attributes[attribute] = text;
    } catch (error) {
      if (!(error instanceof HeaderError)) throw error;
      issues.push({ path: `/${attribute}`, message: error.message });
    }
  }
  if (issues.length > 0) throw binaryInvalid(issues, true);
  if (contentType !== undefined) attributes.datacontenttype = contentType;
  Object.assign(attributes, binaryData(value, contentType));
  try {
    return parseCloudEvent(attributes);
  } catch (error) {
    if (error instanceof CloudEventError && error.code === 'INVALID_CLOUD_EVENT') throw binaryInvalid(error.issues);
    throw error;
  }
}

/** `data` (or `data_base64`) of a binary-mode event from the message value; see decodeKafkaCloudEvents. */
function binaryData(value: Buffer | null, contentType: string | undefined): { data?: unknown; data_base64?: string } {
  if (value === null) return {};
  if (contentType === undefined) {
    if (value.length === 0) return {};
    const text = utf8Text(value);
    if (text === undefined) return { data_base64: value.toString('base64') };
    try {
      return { data: JSON.parse(text) as unknown };
    } catch {
      return { data: text };
    }
  }
  const media = mediaTypeOf(contentType);
  if (isJsonMediaType(media)) return { data: parseJson(value, `the data (content-type ${media})`) };
  if (isTextMediaType(media)) {
    const text = utf8Text(value);
    if (text === undefined) throw binaryInvalid([{ path: '/data', message: `is not UTF-8 text (content-type ${media})` }]);
    return { data: text };
  }
  return { data_base64: value.toString('base64') };
}

/**
 * Binary-mode issues, with the detail naming headers as the producer wrote them (`ce_id`);
 * `headersOnly` when every issue is about a `ce_` header itself (even `ce_data`).
 */
function binaryInvalid(issues: readonly ValidationIssue[], headersOnly = false): CloudEventError {
  const where = (path: string): string => {
    const attribute = path.split('/')[1] ?? '';
    if (headersOnly) return `${CE_PREFIX}${attribute}`;
    if (attribute === '') return 'the message';
    if (attribute === 'data' || attribute === 'data_base64') return 'the value';
    if (attribute === 'datacontenttype') return 'content-type';
    return `${CE_PREFIX}${attribute}`;
  };
  const fields = issues.map((i) => `${where(i.path)} ${i.message}`).join('; ');
  return new CloudEventError('INVALID_CLOUD_EVENT', `The binary-mode message is not a valid CloudEvent: ${fields}.`, issues);
}

function parseJson(value: Buffer | null, what: string): unknown {
  if (value === null || value.length === 0) throw new CloudEventError('MALFORMED_JSON', `The message value is empty; ${what} must be JSON.`);
  const text = utf8Text(value);
  if (text === undefined) throw new CloudEventError('MALFORMED_JSON', `The message value is not UTF-8; ${what} must be JSON.`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CloudEventError('MALFORMED_JSON', `The message value is not valid JSON (${what}): ${(error as Error).message}`);
  }
}

function utf8Text(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

// version-traceid-parentid-flags; ids not all zero; version ff is invalid; a later version may
// append fields after the flags, version 00 may not.
const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/;

function isTraceparent(value: string): boolean {
  const match = TRACEPARENT_PATTERN.exec(value);
  if (!match) return false;
  const [, version, traceId, parentId, rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return false;
  return !/^0+$/.test(traceId) && !/^0+$/.test(parentId);
}

class HeaderError extends Error {}

/** Kafka headers by lower-cased name; a header sent more than once must repeat one value. */
class KafkaHeaders {
  private readonly byName = new Map<string, Array<Buffer | string>>();

  constructor(headers: Readonly<Record<string, KafkaHeaderValue>>) {
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      const values = typeof value === 'string' || Buffer.isBuffer(value) ? [value] : [...value];
      if (values.length === 0) continue;
      const key = name.toLowerCase();
      this.byName.set(key, [...(this.byName.get(key) ?? []), ...values]);
    }
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  hasPrefix(prefix: string): boolean {
    return this.names().some((name) => name.startsWith(prefix));
  }

  /** @throws HeaderError when a value is not UTF-8 or repeats of the header disagree. */
  text(name: string): string | undefined {
    const values = this.byName.get(name);
    if (values === undefined) return undefined;
    const texts = values.map((v) => {
      if (typeof v === 'string') return v;
      const text = utf8Text(v);
      if (text === undefined) throw new HeaderError('is not a UTF-8 header value');
      return text;
    });
    if (new Set(texts).size > 1) throw new HeaderError(`is sent ${texts.length} times with different values`);
    return texts[0];
  }
}
