/** The JSON event format's media types (CloudEvents JSON format, sections 3 and 4). */
export const CLOUD_EVENTS_JSON = 'application/cloudevents+json';
export const CLOUD_EVENTS_BATCH_JSON = 'application/cloudevents-batch+json';
/** Every CloudEvents event-format media type starts so (`+json`, `+avro`, `-batch+json`, …). */
export const CLOUD_EVENTS_MEDIA_TYPE_PREFIX = 'application/cloudevents';

/** The media type of a Content-Type value, parameters (`; charset=…`) dropped, lower-cased. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/** `application/json` and every `+json` structured-syntax type. Takes a bare media type. */
export function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/** Binary-mode data of these types is kept as text; other non-JSON data as base64. */
export function isTextMediaType(mediaType: string): boolean {
  return mediaType.startsWith('text/') || mediaType === 'application/xml';
}
