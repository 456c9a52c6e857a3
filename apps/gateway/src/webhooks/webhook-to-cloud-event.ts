import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { CloudEvent } from '@meridian/domain';

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
};

const field = (payload: unknown, name: string): string | undefined => {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const value = (payload as Record<string, unknown>)[name];
  return typeof value === 'string' && value.length > 0 ? value : typeof value === 'number' ? String(value) : undefined;
};

/**
 * Maps a provider's raw payload to a CloudEvent. Each attribute comes from a Meridian header when
 * the sender sets one, else from the payload's usual field, else a default:
 * - id: `X-Meridian-Event-Id`, payload `id`, else the SHA-256 of the body — so a provider's
 *   re-delivery of the same payload is a duplicate, not a second event;
 * - type: `X-Meridian-Event-Type`, payload `type` or `event`, else `webhook.<source>`;
 * - subject: `X-Meridian-Subject`, payload `subject`, else none;
 * - source: `urn:meridian:webhook:<source>`; data: the payload (JSON, or the body as text).
 */
export function webhookToCloudEvent(source: string, headers: IncomingHttpHeaders, rawBody: Buffer, payload: unknown, receivedAt: string): CloudEvent {
  const data = payload !== undefined ? payload : rawBody.length > 0 ? rawBody.toString('utf8') : null;
  const id = header(headers, 'x-meridian-event-id') ?? field(payload, 'id') ?? createHash('sha256').update(rawBody).digest('hex');
  const type = header(headers, 'x-meridian-event-type') ?? field(payload, 'type') ?? field(payload, 'event') ?? `webhook.${source}`;
  const subject = header(headers, 'x-meridian-subject') ?? field(payload, 'subject');
  return {
    specversion: '1.0',
    id: id.slice(0, 256),
    source: `urn:meridian:webhook:${source}`,
    type: type.slice(0, 256),
    ...(subject ? { subject: subject.slice(0, 512) } : {}),
    time: receivedAt,
    datacontenttype: (headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim(),
    data,
  };
}
