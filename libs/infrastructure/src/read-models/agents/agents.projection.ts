import { AGENT_EVENT_TYPES, AGENT_STREAM_CATEGORY, assertNever, type AgentEvent, type DecisionPlacement, type RecordedEvent } from '@meridian/domain';
import type { EntityManager } from 'typeorm';
import type { Projection } from '../engine/projection';
import { groupByTenant, readAggregateEvent, rowKey, type AggregateEvent } from '../shared/aggregate-events';
import { loadRowsByColumn, upsertRows } from '../shared/row-writes';
import { AgentDecisionRecord, AgentRecord, type DecisionActionRecord } from './agent-read-model.entities';

export const AGENTS_PROJECTION = 'agents';

function placementOf(data: DecisionPlacement): Record<string, unknown> | null {
  const placement = {
    ...(data.mailboxRevision !== undefined && { mailboxRevision: data.mailboxRevision }),
    ...(data.coalesced !== undefined && { coalesced: data.coalesced }),
    ...(data.hop !== undefined && { hop: data.hop }),
  };
  return Object.keys(placement).length > 0 ? placement : null;
}

/**
 * Projects agent streams into `rm_agents` (definition, status, counters, memory, revision) and
 * `rm_agent_decisions` (the decision ledger with each action's outcome). A batch loads the rows it
 * touches once, folds its events in memory, and upserts each changed row once.
 */
export class AgentsProjection implements Projection {
  readonly name = AGENTS_PROJECTION;
  readonly version = 1;
  readonly tables = [AgentRecord, AgentDecisionRecord];
  readonly filter = { types: ['agent.*'] };

  async apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void> {
    const batch: AggregateEvent<AgentEvent>[] = [];
    for (const recorded of events) {
      const read = readAggregateEvent<AgentEvent>(recorded, AGENT_STREAM_CATEGORY, AGENT_EVENT_TYPES);
      if (read) batch.push(read);
    }
    if (batch.length === 0) return;

    const agents = new Map<string, AgentRecord>();
    const decisions = new Map<string, AgentDecisionRecord>();
    const changedAgents = new Set<string>();
    const changedDecisions = new Set<string>();
    for (const [tenantId, items] of groupByTenant(batch)) {
      for (const row of await loadRowsByColumn(manager, AgentRecord, targetVersion, tenantId, 'agentId', items.map((item) => item.aggregateId))) {
        agents.set(rowKey(row.tenantId, row.agentId), row);
      }
      const decisionIds = items.flatMap(({ event }) => (event.type === 'agent.action-executed' || event.type === 'agent.action-failed' ? [event.data.decisionId] : []));
      for (const row of await loadRowsByColumn(manager, AgentDecisionRecord, targetVersion, tenantId, 'decisionId', decisionIds)) {
        decisions.set(rowKey(row.tenantId, row.agentId, row.decisionId), row);
      }
    }

    for (const item of batch) {
      const { event, recorded, tenantId, aggregateId, occurredAt } = item;
      const key = rowKey(tenantId, aggregateId);
      if (event.type === 'agent.defined') {
        const { definition, version } = event.data;
        agents.set(key, {
          projectionVersion: targetVersion,
          tenantId,
          agentId: aggregateId,
          name: definition.name,
          kind: definition.kind,
          status: 'active',
          statusReason: null,
          definition: { ...definition },
          definitionVersion: version,
          decisionCount: 0,
          messageCount: 0,
          memory: {},
          revision: recorded.revision,
          createdAt: occurredAt,
          updatedAt: occurredAt,
          createdPosition: recorded.position,
          lastPosition: recorded.position,
        });
        changedAgents.add(key);
        continue;
      }
      const agent = agents.get(key);
      // Nothing but a definition starts an agent's history (as in the decider's evolve).
      if (!agent) continue;
      agent.revision = recorded.revision;
      agent.lastPosition = recorded.position;
      changedAgents.add(key);
      switch (event.type) {
        case 'agent.reconfigured':
          agent.definition = { ...event.data.definition };
          agent.definitionVersion = event.data.version;
          agent.name = event.data.definition.name;
          agent.kind = event.data.definition.kind;
          agent.updatedAt = occurredAt;
          break;
        case 'agent.paused':
          agent.status = 'paused';
          agent.statusReason = event.data.reason ?? null;
          agent.updatedAt = occurredAt;
          break;
        case 'agent.resumed':
          agent.status = 'active';
          agent.statusReason = null;
          agent.updatedAt = occurredAt;
          break;
        case 'agent.retired':
          agent.status = 'retired';
          agent.statusReason = event.data.reason ?? null;
          agent.updatedAt = occurredAt;
          break;
        case 'agent.decision-recorded': {
          const data = event.data;
          agent.decisionCount += 1;
          const decisionKey = rowKey(tenantId, aggregateId, data.decisionId);
          decisions.set(decisionKey, {
            projectionVersion: targetVersion,
            tenantId,
            agentId: aggregateId,
            decisionId: data.decisionId,
            input: { ...data.input },
            engine: { ...data.engine },
            definitionVersion: data.definitionVersion,
            output: data.output === undefined ? null : data.output,
            actions: data.actions.map(({ index, action }) => ({ index, action, status: 'pending' })),
            usage: { ...data.usage },
            latencyMs: data.latencyMs,
            correlationId: data.correlationId,
            status: 'decided',
            error: null,
            placement: placementOf(data),
            decidedAt: occurredAt,
            position: recorded.position,
          });
          changedDecisions.add(decisionKey);
          break;
        }
        case 'agent.decision-failed':
        case 'agent.decision-cancelled': {
          const data = event.data;
          const decisionKey = rowKey(tenantId, aggregateId, data.decisionId);
          const failed = event.type === 'agent.decision-failed' ? event.data : null;
          decisions.set(decisionKey, {
            projectionVersion: targetVersion,
            tenantId,
            agentId: aggregateId,
            decisionId: data.decisionId,
            input: { ...data.input },
            engine: failed ? { ...failed.engine } : {},
            definitionVersion: failed ? failed.definitionVersion : agent.definitionVersion,
            output: failed?.output ?? null,
            actions: [],
            usage: failed ? { ...failed.usage } : { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 },
            latencyMs: data.latencyMs,
            correlationId: failed ? failed.correlationId : recorded.metadata.correlationId,
            status: failed ? 'failed' : 'cancelled',
            error: failed ? { ...failed.error } : { code: 'INTERRUPTED', message: event.type === 'agent.decision-cancelled' ? event.data.reason : '' },
            placement: failed ? placementOf(failed) : null,
            decidedAt: occurredAt,
            position: recorded.position,
          });
          changedDecisions.add(decisionKey);
          break;
        }
        case 'agent.message-sent':
          break;
        case 'agent.action-executed':
        case 'agent.action-failed': {
          const decisionKey = rowKey(tenantId, aggregateId, event.data.decisionId);
          const decision = decisions.get(decisionKey);
          if (!decision) break;
          const outcome: Partial<DecisionActionRecord> =
            event.type === 'agent.action-executed'
              ? { status: 'succeeded', ...(event.data.result !== undefined ? { result: event.data.result } : {}) }
              : { status: 'failed', error: event.data.error };
          decision.actions = decision.actions.map((action) => (action.index === event.data.index ? ({ index: action.index, action: action.action, ...outcome } as DecisionActionRecord) : action));
          changedDecisions.add(decisionKey);
          break;
        }
        case 'agent.message-received':
          agent.messageCount += 1;
          break;
        case 'agent.memory-updated':
          agent.memory = { ...agent.memory, [event.data.key]: event.data.value };
          break;
        default:
          assertNever(event);
      }
    }

    await upsertRows(manager, AgentRecord, [...changedAgents].map((key) => agents.get(key) as AgentRecord));
    await upsertRows(manager, AgentDecisionRecord, [...changedDecisions].map((key) => decisions.get(key) as AgentDecisionRecord));
  }
}
