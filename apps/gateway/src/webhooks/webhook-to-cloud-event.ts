import { createHash } from 'node:crypto';
import type { CloudEvent } from '@meridian/domain';

const field = (payload: unknown, name: string): string | undefined => {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const value = (payload as Record<string, unknown>)[name];
  return typeof value === 'string' && value.length > 0 ? value : typeof value === 'number' ? String(value) : undefined;
};

/**
 * Maps a provider's raw payload to a CloudEvent. Every attribute comes from the signed body only —
 * never from headers, which the signature does not cover (a captured delivery replayed with other
 * headers must not become another event):
 * - id: the payload's `id`, else the SHA-256 of the body — so a provider's re-delivery of the same
 *   payload is a duplicate, not a second event;
 * - type: the payload's `type` or `event`, else `webhook.<source>`;
 * - subject: the payload's `subject`, else none;
 * - source: `urn:meridian:webhook:<source>`; data: the payload (JSON, or the body as text).
 */
export function webhookToCloudEvent(source: string, contentType: string | undefined, rawBody: Buffer, payload: unknown, receivedAt: string): CloudEvent {
  const data = payload !== undefined ? payload : rawBody.length > 0 ? rawBody.toString('utf8') : null;
  const id = field(payload, 'id') ?? createHash('sha256').update(rawBody).digest('hex');
  const type = field(payload, 'type') ?? field(payload, 'event') ?? `webhook.${source}`;
  const subject = field(payload, 'subject');
  return {
    specversion: '1.0',
    id: id.slice(0, 256),
    source: `urn:meridian:webhook:${source}`,
    type: type.slice(0, 256),
    ...(subject ? { subject: subject.slice(0, 512) } : {}),
    time: receivedAt,
    datacontenttype: (contentType ?? 'application/octet-stream').split(';')[0].trim(),
    data,
  };
}
