import { SetMetadata } from '@nestjs/common';
import type { Role } from '@meridian/infrastructure/auth/principal';

export const REQUIRED_ROLES = 'meridian:roles';
/** Only principals with one of these roles may call the route (403 otherwise). */
export const Roles = (...roles: Role[]) => SetMetadata(REQUIRED_ROLES, roles);
