import type { ValidationIssue } from '../validation/schema-validator';

/**
 * Stable codes, safe to branch on and to record with a dead-lettered message:
 * - `INVALID_CLOUD_EVENT`: the attributes do not make a valid CloudEvent (`issues` name the fields);
 * - `UNSUPPORTED_CONTENT_TYPE`: a content type that no mode of the binding reads;
 * - `MALFORMED_JSON`: a value that is declared (or must be) JSON and does not parse;
 * - `EMPTY_MESSAGE`: a message with no value and no binary-mode attributes (a Kafka tombstone).
 */
export type CloudEventErrorCode = 'INVALID_CLOUD_EVENT' | 'UNSUPPORTED_CONTENT_TYPE' | 'MALFORMED_JSON' | 'EMPTY_MESSAGE';

/** Why a message could not be read as CloudEvents. `message` is `detail`, human-readable. */
export class CloudEventError extends Error {
  constructor(
    readonly code: CloudEventErrorCode,
    readonly detail: string,
    /** The offending fields as JSON pointers into the event (`/id`, `/1/time`); empty when none apply. */
    readonly issues: readonly ValidationIssue[] = [],
  ) {
    super(detail);
    this.name = 'CloudEventError';
  }

  static invalid(issues: readonly ValidationIssue[]): CloudEventError {
    const fields = issues.map((i) => `${i.path || '/'} ${i.message}`).join('; ');
    return new CloudEventError('INVALID_CLOUD_EVENT', `The event is not a valid CloudEvent: ${fields}.`, issues);
  }
}
