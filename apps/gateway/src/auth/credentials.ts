import type { IncomingHttpHeaders } from 'node:http';

/** The API key a request carries: `X-API-Key: <key>` or `Authorization: Bearer <key>`. */
export function credentialsFrom(headers: IncomingHttpHeaders, query?: URLSearchParams): string | null {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey;
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (match) return match[1];
  }
  // Browsers cannot set headers on a WebSocket handshake: allow the key in the query there.
  const fromQuery = query?.get('apiKey') ?? query?.get('api_key');
  return fromQuery ?? null;
}
