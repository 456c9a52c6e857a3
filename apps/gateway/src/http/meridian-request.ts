import type { Request } from 'express';
import type { Principal } from '@meridian/infrastructure/auth/principal';

/** What the gateway's middleware attaches to every request. */
export interface MeridianRequest extends Request {
  correlationId: string;
  /** The body exactly as received (for HMAC verification and idempotency fingerprints). */
  rawBody?: Buffer;
  principal?: Principal;
}

export const CORRELATION_HEADER = 'x-correlation-id';
