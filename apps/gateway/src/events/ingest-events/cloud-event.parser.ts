import type { IncomingHttpHeaders } from 'node:http';
import type { CloudEvent } from '@meridian/domain';
import {
  CLOUD_EVENTS_BATCH_JSON,
  CLOUD_EVENTS_JSON,
  CloudEventError,
  isTextMediaType,
  mediaTypeOf,
  parseCloudEvent,
  parseCloudEventBatch,
} from '@meridian/infrastructure/cloud-events';
import type { ValidationIssue } from '@meridian/infrastructure/validation/schema-validator';
import { HttpProblem } from '../../http/problem-details';
import { isJsonContentType } from '../../http/body-parser.middleware';

/**
 * The CloudEvents HTTP protocol binding: binary mode (`ce-*` headers, the body is `data`),
 * structured mode (`application/cloudevents+json`), batched mode
 * (`application/cloudevents-batch+json`), and plain `application/json` (one event or an array).
 * Validation is the one every binding shares (@meridian/infrastructure/cloud-events); this class
 * adds what is HTTP's own: content negotiation, `ce-` headers, status codes.
 */
export class CloudEventParser {
  constructor(private readonly maxBatch: number) {}

  parse(headers: IncomingHttpHeaders, body: unknown): CloudEvent[] {
    if (headers['ce-specversion'] !== undefined) return [this.fromBinary(headers, body)];
    const type = mediaTypeOf(headers['content-type']);
    if (body === undefined) throw new HttpProblem(400, 'VALIDATION_FAILED', 'A body is required.', { errors: [{ path: '', message: 'is required' }] });
    if (type === CLOUD_EVENTS_JSON) {
      if (Array.isArray(body)) throw this.invalid([{ path: '', message: 'structured mode carries one event; use application/cloudevents-batch+json for a batch' }]);
      return [this.validateOne(body)];
    }
    if (type === CLOUD_EVENTS_BATCH_JSON) {
      if (!Array.isArray(body)) throw this.invalid([{ path: '', message: 'batched mode carries a JSON array of events' }]);
      return this.validateMany(body);
    }
    if (type === 'application/json') {
      return Array.isArray(body) ? this.validateMany(body) : [this.validateOne(body)];
    }
    throw new HttpProblem(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Send application/json, application/cloudevents+json, application/cloudevents-batch+json, or binary mode with ce-* headers.',
    );
  }

  private validateMany(items: unknown[]): CloudEvent[] {
    // An empty batch is a validation failure (400), reported by the shared batch validation.
    if (items.length > this.maxBatch) {
      throw new HttpProblem(413, 'BATCH_TOO_LARGE', `A batch may hold at most ${this.maxBatch} events; this one has ${items.length}.`);
    }
    return this.translated(() => parseCloudEventBatch(items));
  }

  private validateOne(value: unknown): CloudEvent {
    return this.translated(() => parseCloudEvent(value));
  }

  /** The shared validation's error, as this route's problem: 400 VALIDATION_FAILED with the issues. */
  private translated<T>(validate: () => T): T {
    try {
      return validate();
    } catch (error) {
      if (error instanceof CloudEventError) throw this.invalid(error.issues);
      throw error;
    }
  }

  private fromBinary(headers: IncomingHttpHeaders, body: unknown): CloudEvent {
    const attributes: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!name.startsWith('ce-') || value === undefined) continue;
      const attribute = name.slice(3);
      // Header values are percent-encoded per the HTTP binding.
      const text = Array.isArray(value) ? value.join(',') : value;
      try {
        attributes[attribute] = decodeURIComponent(text);
      } catch {
        throw this.invalid([{ path: `/${attribute}`, message: 'is not a valid percent-encoded header value' }]);
      }
    }
    const contentType = headers['content-type'];
    if (contentType !== undefined) attributes.datacontenttype = contentType;
    if (Buffer.isBuffer(body)) {
      attributes.data = isTextMediaType(mediaTypeOf(contentType)) ? body.toString('utf8') : undefined;
      if (attributes.data === undefined) attributes.data_base64 = body.toString('base64');
    } else if (body !== undefined) {
      if (!isJsonContentType(contentType)) throw this.invalid([{ path: '/data', message: 'unexpected body' }]);
      attributes.data = body;
    }
    return this.validateOne(attributes);
  }

  private invalid(errors: readonly ValidationIssue[]): HttpProblem {
    return new HttpProblem(400, 'VALIDATION_FAILED', 'The event is not a valid CloudEvent.', { errors });
  }
}
