import type { CloudEvent } from '@meridian/domain';
import { SchemaValidationError, SchemaValidator, type ValidationIssue } from '../validation/schema-validator';
import { CloudEventError } from './cloud-event.error';
import { CloudEventSchema, type CloudEventInput } from './cloud-event.schema';

const CORE_ATTRIBUTES = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'data', 'data_base64']);

// One validator for every binding: Ajv compiles the schema once per validator instance.
const validator = new SchemaValidator();

/**
 * Validates one event in the JSON event format's shape and normalises it: `time` to UTC ISO-8601,
 * `data_base64` carried as `data` (the base64 text), extension attributes gathered under
 * `extensions`. `pathPrefix` is put before each issue's path (`/3` for the fourth of a batch).
 *
 * @throws CloudEventError `INVALID_CLOUD_EVENT`, its issues naming every bad field.
 */
export function parseCloudEvent(value: unknown, pathPrefix = ''): CloudEvent {
  let input: CloudEventInput;
  try {
    input = validator.validate(CloudEventSchema, value);
  } catch (error) {
    if (error instanceof SchemaValidationError) throw CloudEventError.invalid(error.issues.map((i) => ({ path: pathPrefix + i.path, message: i.message })));
    throw error;
  }
  // JSON Schema's date-time admits leap seconds (…T23:59:60Z), which Date cannot represent.
  if (input.time !== undefined && Number.isNaN(Date.parse(input.time))) {
    throw CloudEventError.invalid([{ path: `${pathPrefix}/time`, message: 'is not a representable date-time' }]);
  }
  if (input.data !== undefined && input.data_base64 !== undefined) {
    throw CloudEventError.invalid([{ path: `${pathPrefix}/data_base64`, message: 'data and data_base64 are mutually exclusive' }]);
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

/**
 * Validates a batch (a JSON array of events): all or nothing. Every bad event is reported, each
 * issue under its index (`/1/id`), so a producer fixes the whole batch in one round.
 *
 * @throws CloudEventError `INVALID_CLOUD_EVENT` for an empty batch or any invalid event.
 */
export function parseCloudEventBatch(items: readonly unknown[]): CloudEvent[] {
  if (items.length === 0) throw CloudEventError.invalid([{ path: '', message: 'a batch needs at least one event' }]);
  const issues: ValidationIssue[] = [];
  const events: CloudEvent[] = [];
  items.forEach((item, index) => {
    try {
      events.push(parseCloudEvent(item, `/${index}`));
    } catch (error) {
      if (error instanceof CloudEventError) issues.push(...error.issues);
      else throw error;
    }
  });
  if (issues.length > 0) throw CloudEventError.invalid(issues);
  return events;
}
