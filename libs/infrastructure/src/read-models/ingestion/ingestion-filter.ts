import { categoryPrefix, type EventFilter } from '@meridian/domain';

/**
 * Which ingestion streams a projection subscribes to. With a list of tenants the subscription is
 * narrowed to their `entity-` and `source-` streams; with 'all' it reads every stream and the
 * projection keeps the ingestion categories itself, so tenants created later are never missed.
 */
export type TenantScope = 'all' | readonly string[];

export function ingestionFilter(tenants: TenantScope): EventFilter {
  if (tenants === 'all') return {};
  return { streamPrefixes: tenants.flatMap((tenant) => [categoryPrefix('entity', tenant), categoryPrefix('source', tenant)]) };
}
