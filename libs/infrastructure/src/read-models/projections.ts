import { AgentsProjection } from './agents/agents.projection';
import { ChainsProjection } from './chains/chains.projection';
import { ConversationsProjection } from './conversations/conversations.projection';
import type { Projection } from './engine/projection';
import { EntitiesProjection } from './ingestion/entities.projection';
import { EventsProjection } from './ingestion/events.projection';
import type { TenantScope } from './ingestion/ingestion-filter';
import { TriggersProjection } from './triggers/triggers.projection';

/** Every projection Meridian runs, in one place, so the projector and the benchmark agree. */
export function defaultProjections(options: { readonly tenants?: TenantScope } = {}): Projection[] {
  const tenants = options.tenants ?? 'all';
  return [new EventsProjection(tenants), new EntitiesProjection(tenants), new AgentsProjection(), new ConversationsProjection(), new TriggersProjection(), new ChainsProjection()];
}
