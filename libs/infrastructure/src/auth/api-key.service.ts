import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  ConcurrencyConflictError,
  SYSTEM_ACTOR,
  streamName,
  type EventStore,
  type RecordedEvent,
  type Subscription,
} from '@meridian/domain';
import { v5 as uuidv5 } from 'uuid';
import { API_KEY_EVENT_TYPES, type ApiKeyEvent } from './api-key.events';
import type { Principal, Role } from './principal';

export const API_KEY_SERVICE = Symbol('ApiKeyService');

interface KnownKey {
  readonly keyId: string;
  readonly tenantId: string;
  readonly role: Role;
  readonly sha256: Buffer;
}

const BOOTSTRAP_KEY_ID = 'bootstrap-admin';
const API_KEY_NAMESPACE = '3b8e4c52-7a51-5d0f-b1f4-9d2c6e8a0b17';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return `mk_${randomBytes(32).toString('base64url')}`;
}

/**
 * Authenticates API keys against the issued keys, kept in memory and followed live from the event
 * store (so a key issued by another process is accepted here too). Keys are random 256-bit
 * secrets, so a plain SHA-256 is enough to store them: there is nothing to brute-force.
 */
export class ApiKeyService {
  private readonly byHash = new Map<string, KnownKey>();
  private subscription: Subscription | null = null;

  constructor(private readonly store: EventStore) {}

  /** Loads every issued key and follows new ones. Resolves once caught up. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      this.subscription = this.store.subscribe(
        {
          onEvents: (events) => events.forEach((e) => this.apply(e)),
          onCaughtUp: () => {
            if (!ready) {
              ready = true;
              resolve();
            }
          },
          onError: (error) => {
            if (!ready) reject(error);
          },
        },
        { filter: { types: API_KEY_EVENT_TYPES } },
      );
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = null;
  }

  authenticate(key: string): Principal | null {
    const digest = hashApiKey(key);
    const known = this.byHash.get(digest);
    // The map lookup already matched; the constant-time compare keeps the check honest if the
    // lookup is ever replaced by a prefix index.
    if (!known || !timingSafeEqual(known.sha256, Buffer.from(digest, 'hex'))) return null;
    return { tenantId: known.tenantId, role: known.role, actor: { kind: 'api-key', id: known.keyId } };
  }

  /**
   * Makes sure an admin key exists for the tenant. With `explicitKey` (MERIDIAN_ADMIN_API_KEY) that
   * key is registered. Otherwise, on the very first start, a key is generated and returned — the
   * only time it exists in clear; later starts return null.
   */
  async ensureAdminKey(tenantId: string, explicitKey?: string): Promise<string | null> {
    if (explicitKey) {
      const sha256 = hashApiKey(explicitKey);
      if (!this.byHash.has(sha256)) await this.issue(tenantId, `env-admin-${sha256.slice(0, 12)}`, 'admin', 'admin (MERIDIAN_ADMIN_API_KEY)', sha256, explicitKey);
      return null;
    }
    const key = generateApiKey();
    const issued = await this.issue(tenantId, BOOTSTRAP_KEY_ID, 'admin', 'admin (generated on first start)', hashApiKey(key), key);
    return issued ? key : null;
  }

  private async issue(tenantId: string, keyId: string, role: Role, name: string, sha256: string, key: string): Promise<boolean> {
    const event: ApiKeyEvent = { type: 'api-key.issued', data: { keyId, name, role, tenantId, sha256, hint: key.slice(0, 6) } };
    try {
      await this.store.append(
        streamName('apikey', keyId, tenantId),
        [
          {
            // Deterministic, so a retried issue is an idempotent append.
            eventId: uuidv5(`${tenantId}/${keyId}/${sha256}`, API_KEY_NAMESPACE),
            type: event.type,
            data: event.data,
            metadata: {
              occurredAt: new Date().toISOString(),
              correlationId: keyId,
              causationId: null,
              hop: 0,
              tenantId,
              actor: SYSTEM_ACTOR,
            },
          },
        ],
        { expected: 'no_stream' },
      );
    } catch (error) {
      // Another process (or an earlier start) issued it first: nothing to do.
      if (error instanceof ConcurrencyConflictError) return false;
      throw error;
    }
    this.byHash.set(sha256, { keyId, tenantId, role, sha256: Buffer.from(sha256, 'hex') });
    return true;
  }

  private apply(event: RecordedEvent): void {
    const e = { type: event.type, data: event.data } as ApiKeyEvent;
    switch (e.type) {
      case 'api-key.issued':
        this.byHash.set(e.data.sha256, { keyId: e.data.keyId, tenantId: e.data.tenantId, role: e.data.role, sha256: Buffer.from(e.data.sha256, 'hex') });
        break;
      case 'api-key.revoked':
        for (const [hash, known] of this.byHash) if (known.keyId === e.data.keyId) this.byHash.delete(hash);
        break;
    }
  }
}
