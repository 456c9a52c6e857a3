/**
 * A domain event from a business system, as a CloudEvents 1.0 envelope. `(source, id)` identifies
 * it: ingesting it twice is a no-op.
 */
export interface CloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject?: string;
  readonly time?: string;
  readonly datacontenttype?: string;
  readonly dataschema?: string;
  readonly data?: unknown;
  /** Extension attributes (lower-case alphanumeric names), kept verbatim. */
  readonly extensions?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * How an ingested CloudEvent is kept in the store: the stored event's `type` is the CloudEvent type
 * and its `data` the CloudEvent data, so subscriptions filter on business types directly; the rest
 * of the envelope travels in metadata under `cloudEvent`.
 */
export interface CloudEventEnvelope {
  readonly id: string;
  readonly source: string;
  readonly specversion: '1.0';
  readonly subject: string | null;
  readonly time: string | null;
  readonly datacontenttype: string | null;
  readonly dataschema: string | null;
  readonly extensions: Readonly<Record<string, string | number | boolean>>;
}

export const CLOUD_EVENT_METADATA_KEY = 'cloudEvent';
