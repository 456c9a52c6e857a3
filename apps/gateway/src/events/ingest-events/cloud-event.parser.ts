import type { IncomingHttpHeaders } from 'node:http';
import type { CloudEvent } from '@meridian/domain';
import { SchemaValidationError, SchemaValidator, type ValidationIssue } from '@meridian/infrastructure/validation/schema-validator';
import { HttpProblem } from '../../http/problem-details';
import { isJsonContentType } from '../../http/body-parser.middleware';
import { CloudEventSchema, type CloudEventInput } from './cloud-event.schema';

const CORE_ATTRIBUTES = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'data', 'data_base64']);

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * The CloudEvents HTTP protocol binding: binary mode (`ce-*` headers, the body is `data`),
 * structured mode (`application/cloudevents+json`), batched mode
 * (`application/cloudevents-batch+json`), and plain `application/json` (one event or an array).
 */
export class CloudEventParser {
  private readonly validator = new SchemaValidator();

  constructor(private readonly maxBatch: number) {}

  parse(headers: IncomingHttpHeaders, body: unknown): CloudEvent[] {
    if (headers['ce-specversion'] !== undefined) return [this.fromBinary(headers, body)];
    const type = mediaType(headers['content-type']);
    if (body === undefined) throw new HttpProblem(400, 'VALIDATION_FAILED', 'A body is required.', { errors: [{ path: '', message: 'is required' }] });
    if (type === 'application/cloudevents+json') {
      if (Array.isArray(body)) throw this.invalid([{ path: '', message: 'structured mode carries one event; use application/cloudevents-batch+json for a batch' }]);
      return [this.validateOne(body, '')];
    }
    if (type === 'application/cloudevents-batch+json') {
      if (!Array.isArray(body)) throw this.invalid([{ path: '', message: 'batched mode carries a JSON array of events' }]);
      return this.validateMany(body);
    }
    if (type === 'application/json') {
      return Array.isArray(body) ? this.validateMany(body) : [this.validateOne(body, '')];
    }
    throw new HttpProblem(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Send application/json, application/cloudevents+json, application/cloudevents-batch+json, or binary mode with ce-* headers.',
    );
  }

  private validateMany(items: unknown[]): CloudEvent[] {
    if (items.length === 0) throw this.invalid([{ path: '', message: 'a batch needs at least one event' }]);
    if (items.length > this.maxBatch) {
      throw new HttpProblem(413, 'BATCH_TOO_LARGE', `A batch may hold at most ${this.maxBatch} events; this one has ${items.length}.`);
    }
    const issues: ValidationIssue[] = [];
    const events: CloudEvent[] = [];
    items.forEach((item, index) => {
      try {
        events.push(this.validateOne(item, `/${index}`));
      } catch (error) {
        if (error instanceof HttpProblem && error.extra.errors) issues.push(...error.extra.errors);
        else throw error;
      }
    });
    if (issues.length > 0) throw this.invalid(issues);
    return events;
  }

  private validateOne(value: unknown, prefix: string): CloudEvent {
    let input: CloudEventInput;
    try {
      input = this.validator.validate(CloudEventSchema, value);
    } catch (error) {
      if (error instanceof SchemaValidationError) throw this.invalid(error.issues.map((i) => ({ path: prefix + i.path, message: i.message })));
      throw error;
    }
    // JSON Schema's date-time admits leap seconds (…T23:59:60Z), which Date cannot represent.
    if (input.time !== undefined && Number.isNaN(Date.parse(input.time))) {
      throw this.invalid([{ path: `${prefix}/time`, message: 'is not a representable date-time' }]);
    }
    if (input.data !== undefined && input.data_base64 !== undefined) {
      throw this.invalid([{ path: `${prefix}/data_base64`, message: 'data and data_base64 are mutually exclusive' }]);
    }
    const extensions: Record<string, string | number | boolean> = {};
    for (const [key, v] of Object.entries(input)) {
      if (!CORE_ATTRIBUTES.has(key)) extensions[key] = v as string | number | boolean;
    }
    return {
      specversion: '1.0',
      id: input.id,
      source: input.source,
      type: input.type,
      ...(input.subject !== undefined ? { subject: input.subject } : {}),
      ...(input.time !== undefined ? { time: new Date(input.time).toISOString() } : {}),
      ...(input.datacontenttype !== undefined ? { datacontenttype: input.datacontenttype } : {}),
      ...(input.dataschema !== undefined ? { dataschema: input.dataschema } : {}),
      ...(input.data !== undefined ? { data: input.data } : input.data_base64 !== undefined ? { data: input.data_base64 } : {}),
      ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
    };
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
      const type = mediaType(contentType);
      attributes.data = type.startsWith('text/') || type === 'application/xml' ? body.toString('utf8') : undefined;
      if (attributes.data === undefined) attributes.data_base64 = body.toString('base64');
    } else if (body !== undefined) {
      if (!isJsonContentType(contentType)) throw this.invalid([{ path: '/data', message: 'unexpected body' }]);
      attributes.data = body;
    }
    return this.validateOne(attributes, '');
  }

  private invalid(errors: ValidationIssue[]): HttpProblem {
    return new HttpProblem(400, 'VALIDATION_FAILED', 'The event is not a valid CloudEvent.', { errors });
  }
}
