import {
  AGENT_STREAM_CATEGORY,
  CHAIN_EVENT_TYPES,
  CHAIN_STREAM_CATEGORY,
  DEFAULT_TENANT_ID,
  isPlainObject,
  MAILBOX_STREAM_CATEGORY,
  parseStreamName,
  type ChainEvent,
  type RecordedEvent,
} from '@meridian/domain';
import type { EntityManager } from 'typeorm';
import type { Projection } from '../engine/projection';
import { groupByTenant, readAggregateEvent, rowKey } from '../shared/aggregate-events';
import { insertRows, loadRowsByColumn, upsertRows } from '../shared/row-writes';
import { ChainNodeRecord, ChainRecord } from './chain-read-model.entities';

export const CHAINS_PROJECTION = 'chains';

/** Streams that only agents (and the people talking to them) write: every event in them belongs to a chain. */
const AGENT_CATEGORIES: ReadonlySet<string> = new Set([MAILBOX_STREAM_CATEGORY, AGENT_STREAM_CATEGORY, CHAIN_STREAM_CATEGORY, 'conversation']);

interface ChainNodeEvent {
  readonly recorded: RecordedEvent;
  readonly node: ChainNodeRecord;
  /** Set for `chain.*` events of the chain's own stream. */
  readonly chainEvent: ChainEvent | null;
}

const stringOr = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/**
 * Which chain an event is a node of, or null when it is not projected. A chain's own stream names
 * it; any other event needs a correlationId and either a hop above 0 (something an agent caused) or
 * a stream only agents write. Hop-0 ingested domain events are left out, so ingestion costs this
 * projection no write: a chain's root is named by the mailbox entries that routed it instead.
 */
function readNode(recorded: RecordedEvent, targetVersion: number): ChainNodeEvent | null {
  const stream = parseStreamName(recorded.streamName);
  if (!stream) return null;
  const metadata = recorded.metadata;
  const hop = typeof metadata.hop === 'number' && Number.isFinite(metadata.hop) ? Math.max(0, Math.trunc(metadata.hop)) : 0;
  const chainEvent = readAggregateEvent<ChainEvent>(recorded, CHAIN_STREAM_CATEGORY, CHAIN_EVENT_TYPES)?.event ?? null;
  const correlationId = chainEvent ? stream.id : stringOr(metadata.correlationId);
  if (correlationId === null || (hop === 0 && !AGENT_CATEGORIES.has(stream.category))) return null;

  const data: Record<string, unknown> = isPlainObject(recorded.data) ? recorded.data : {};
  // Ingested payloads are anyone's JSON: only aggregate streams' data is read for ids.
  const aggregate = AGENT_CATEGORIES.has(stream.category);
  const actor: Record<string, unknown> = isPlainObject(metadata.actor) ? metadata.actor : {};
  const agentId =
    stream.category === AGENT_STREAM_CATEGORY || stream.category === MAILBOX_STREAM_CATEGORY
      ? stream.id
      : ((aggregate ? stringOr(data.agentId) : null) ?? (actor.kind === 'agent' ? stringOr(actor.id) : null));
  return {
    recorded,
    chainEvent,
    node: {
      projectionVersion: targetVersion,
      tenantId: stringOr(metadata.tenantId) ?? (stream.tenantId || DEFAULT_TENANT_ID),
      correlationId,
      position: recorded.position,
      eventId: recorded.eventId,
      causationId: stringOr(metadata.causationId),
      hop,
      type: recorded.type,
      streamName: recorded.streamName,
      agentId,
      decisionId: aggregate ? stringOr(data.decisionId) : null,
      occurredAt: stringOr(metadata.occurredAt) ?? recorded.recordedAt,
    },
  };
}

/** The originating event, when this node names it: the event itself, or a mailbox entry that routed it. */
function rootNamedBy({ recorded, node }: ChainNodeEvent): Pick<ChainRecord, 'rootEventId' | 'rootType' | 'rootPosition' | 'rootSubject'> | null {
  if (node.eventId === node.correlationId) return { rootEventId: node.eventId, rootType: node.type, rootPosition: node.position, rootSubject: null };
  if (recorded.type !== 'mailbox.input-enqueued' || !isPlainObject(recorded.data) || !isPlainObject(recorded.data.input)) return null;
  const input = recorded.data.input;
  if (input.kind !== 'event' || input.ref !== node.correlationId || typeof input.type !== 'string' || typeof input.position !== 'number') return null;
  return { rootEventId: node.correlationId, rootType: input.type, rootPosition: input.position, rootSubject: stringOr(input.subject) };
}

function newChain(node: ChainNodeRecord): ChainRecord {
  return {
    projectionVersion: node.projectionVersion,
    tenantId: node.tenantId,
    correlationId: node.correlationId,
    rootEventId: null,
    rootType: null,
    rootPosition: null,
    rootSubject: null,
    decisions: 0,
    tokens: 0,
    costUsd: 0,
    maxHop: 0,
    agentIds: [],
    countedDecisionIds: [],
    nodeCount: 0,
    halted: false,
    haltReason: null,
    haltLimit: null,
    haltUsed: null,
    haltedAgentId: null,
    haltedAt: null,
    firstPosition: node.position,
    lastPosition: node.position,
    updatedAt: node.occurredAt,
  };
}

/**
 * Projects the causation graph of every chain an agent took part in: `rm_chain_nodes` (one row per
 * event, with its causationId, hop and agent) and `rm_chains` (what the chain used — folded from
 * `chain.decision-counted` like the runtime's budget check — and its halt). The subscription takes
 * every stream, because what an agent emits (hop > 0) can land in any stream of any tenant; events
 * that are not chain nodes are skipped without a read or a write.
 */
export class ChainsProjection implements Projection {
  readonly name = CHAINS_PROJECTION;
  readonly version = 1;
  readonly tables = [ChainRecord, ChainNodeRecord];
  readonly filter = {};

  async apply(events: readonly RecordedEvent[], manager: EntityManager, targetVersion: number): Promise<void> {
    const batch: ChainNodeEvent[] = [];
    for (const recorded of events) {
      const read = readNode(recorded, targetVersion);
      if (read) batch.push(read);
    }
    if (batch.length === 0) return;

    const chains = new Map<string, ChainRecord>();
    const changed = new Set<string>();
    for (const [tenantId, items] of groupByTenant(batch.map((item) => item.node))) {
      for (const row of await loadRowsByColumn(manager, ChainRecord, targetVersion, tenantId, 'correlationId', items.map((item) => item.correlationId))) {
        chains.set(rowKey(row.tenantId, row.correlationId), row);
      }
    }

    for (const item of batch) {
      const { node, chainEvent } = item;
      const key = rowKey(node.tenantId, node.correlationId);
      let chain = chains.get(key);
      if (!chain) {
        chain = newChain(node);
        chains.set(key, chain);
      }
      changed.add(key);
      chain.nodeCount += 1;
      chain.maxHop = Math.max(chain.maxHop, node.hop);
      chain.lastPosition = node.position;
      chain.updatedAt = node.occurredAt;
      if (node.agentId !== null && !chain.agentIds.includes(node.agentId)) chain.agentIds = [...chain.agentIds, node.agentId];
      if (chain.rootEventId === null) {
        const root = rootNamedBy(item);
        if (root) Object.assign(chain, root);
      }
      if (chainEvent?.type === 'chain.decision-counted') {
        const counted = chainEvent.data;
        if (!chain.countedDecisionIds.includes(counted.decisionId)) {
          chain.countedDecisionIds = [...chain.countedDecisionIds, counted.decisionId];
          chain.decisions += 1;
          chain.tokens += counted.tokens;
          chain.costUsd += counted.costUsd;
          chain.maxHop = Math.max(chain.maxHop, counted.hop);
        }
      } else if (chainEvent?.type === 'chain.halted' && !chain.halted) {
        // The first halt stands (it is appended once per chain); a later one changes nothing.
        const halt = chainEvent.data;
        chain.halted = true;
        chain.haltReason = halt.reason;
        chain.haltLimit = halt.limit;
        chain.haltUsed = halt.used;
        chain.haltedAgentId = halt.agentId;
        chain.haltedAt = halt.haltedAt;
      }
    }

    await insertRows(manager, ChainNodeRecord, batch.map((item) => item.node));
    await upsertRows(manager, ChainRecord, [...changed].map((key) => chains.get(key) as ChainRecord));
  }
}
