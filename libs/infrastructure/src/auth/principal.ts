import type { Actor } from '@meridian/domain';

export type Role = 'admin' | 'operator' | 'developer' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'operator', 'developer', 'viewer'];

/** Who is calling, as established by authentication. Every command records `actor`. */
export interface Principal {
  readonly tenantId: string;
  readonly role: Role;
  readonly actor: Actor;
}
