import type { Role } from './principal';

/** API keys are event-sourced like everything else; only a SHA-256 of the key is ever stored. */
export type ApiKeyEvent =
  | { type: 'api-key.issued'; data: { keyId: string; name: string; role: Role; tenantId: string; sha256: string; hint: string } }
  | { type: 'api-key.revoked'; data: { keyId: string } };

export const API_KEY_EVENT_TYPES: readonly ApiKeyEvent['type'][] = ['api-key.issued', 'api-key.revoked'];
