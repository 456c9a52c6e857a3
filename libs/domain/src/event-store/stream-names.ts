import { DEFAULT_TENANT_ID } from '../shared/event';

/**
 * Stream names carry the tenant, so tenants are isolated in every stream name:
 * `<tenant>/<category>-<id>`. Categories: agent, conversation, trigger, entity (ingested domain
 * events, one stream per subject), source (ingested events without a subject), apikey (issued API keys).
 */
export type StreamCategory = 'agent' | 'conversation' | 'trigger' | 'entity' | 'source' | 'apikey' | 'chain' | 'mailbox';

export function streamName(category: StreamCategory, id: string, tenantId: string = DEFAULT_TENANT_ID): string {
  return `${tenantId}/${category}-${id}`;
}

export function categoryPrefix(category: StreamCategory, tenantId: string = DEFAULT_TENANT_ID): string {
  return `${tenantId}/${category}-`;
}

export function parseStreamName(name: string): { tenantId: string; category: string; id: string } | null {
  const slash = name.indexOf('/');
  if (slash < 0) return null;
  const rest = name.slice(slash + 1);
  const dash = rest.indexOf('-');
  if (dash < 0) return null;
  return { tenantId: name.slice(0, slash), category: rest.slice(0, dash), id: rest.slice(dash + 1) };
}
