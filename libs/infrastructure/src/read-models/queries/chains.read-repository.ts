import { DEFAULT_TENANT_ID } from '@meridian/domain';
import type { DataSource } from 'typeorm';
import { ChainNodeRecord, ChainRecord } from '../chains/chain-read-model.entities';
import { CHAINS_PROJECTION } from '../chains/chains.projection';
import { EVENTS_PROJECTION } from '../ingestion/events.projection';
import { IngestedEventRecord } from '../ingestion/ingested-event.entity';
import { inReadTransaction } from '../read-model-transactions';
import { whereActiveVersion } from './active-version';

/**
 * Most nodes one read returns. A chain is bounded by its budgets, but a correlation id a client
 * reuses across many requests is not: past this the answer says `truncated`.
 */
export const MAX_CHAIN_NODES = 1000;

/** The event that started the chain. */
export interface ChainRootView {
  readonly id: string;
  readonly type: string;
  readonly position: number;
  /** The CloudEvent subject, for an ingested root that had one. */
  readonly subject: string | null;
}

export interface ChainNodeView {
  readonly position: number;
  readonly eventId: string;
  /** The event that caused this one: the root's id, another node's, or null. */
  readonly causationId: string | null;
  readonly hop: number;
  readonly type: string;
  readonly streamName: string;
  readonly agentId: string | null;
  readonly decisionId: string | null;
  readonly occurredAt: string;
}

export interface ChainEdgeView {
  /** The causing event (causationId). */
  readonly from: string;
  readonly to: string;
}

/** What the chain has consumed of its budgets. */
export interface ChainUsedView {
  readonly hops: number;
  readonly decisions: number;
  readonly tokens: number;
  readonly costUsd: number;
}

export interface ChainHaltView {
  readonly reason: string;
  readonly limit: number;
  readonly used: number;
  /** The agent whose step would have gone beyond the limit. */
  readonly agentId: string;
  readonly haltedAt: string;
}

export interface ChainView {
  readonly correlationId: string;
  readonly tenantId: string;
  readonly root: ChainRootView | null;
  /** In global position order. */
  readonly nodes: readonly ChainNodeView[];
  /** One per node that has a causationId, from cause to effect. */
  readonly edges: readonly ChainEdgeView[];
  /** Every agent involved, in the order they first appeared. */
  readonly agentIds: readonly string[];
  readonly used: ChainUsedView;
  readonly halted: ChainHaltView | null;
  readonly nodeCount: number;
  /** True when the chain has more than MAX_CHAIN_NODES nodes and only the first are listed. */
  readonly truncated: boolean;
  readonly firstPosition: number;
  readonly lastPosition: number;
  readonly updatedAt: string;
}

export function toChainNodeView(row: ChainNodeRecord): ChainNodeView {
  return {
    position: row.position,
    eventId: row.eventId,
    causationId: row.causationId,
    hop: row.hop,
    type: row.type,
    streamName: row.streamName,
    agentId: row.agentId,
    decisionId: row.decisionId,
    occurredAt: row.occurredAt,
  };
}

function haltOf(row: ChainRecord): ChainHaltView | null {
  if (!row.halted) return null;
  return { reason: row.haltReason ?? '', limit: row.haltLimit ?? 0, used: row.haltUsed ?? 0, agentId: row.haltedAgentId ?? '', haltedAt: row.haltedAt ?? row.updatedAt };
}

/** Causation graphs of chains, from the `chains` read model (the root's details from `events`). */
export class ChainsReadRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The chain with its nodes and edges, read from one snapshot; null when no event of it is known. */
  async get(correlationId: string, tenantId: string = DEFAULT_TENANT_ID): Promise<ChainView | null> {
    return inReadTransaction(this.dataSource, async (manager) => {
      const chain = await whereActiveVersion(
        manager.getRepository(ChainRecord).createQueryBuilder('ch').where('ch.tenantId = :tenantId AND ch.correlationId = :correlationId', { tenantId, correlationId }),
        manager,
        'ch',
        CHAINS_PROJECTION,
      ).getOne();
      if (!chain) return null;
      const rows = await whereActiveVersion(
        manager.getRepository(ChainNodeRecord).createQueryBuilder('cn').where('cn.tenantId = :tenantId AND cn.correlationId = :correlationId', { tenantId, correlationId }),
        manager,
        'cn',
        CHAINS_PROJECTION,
      )
        .orderBy('cn.position', 'ASC')
        .take(MAX_CHAIN_NODES)
        .getMany();

      let root: ChainRootView | null = null;
      if (chain.rootEventId !== null && chain.rootType !== null && chain.rootPosition !== null) {
        root = { id: chain.rootEventId, type: chain.rootType, position: chain.rootPosition, subject: chain.rootSubject };
        // The events read model has the ingested root by position (its key): the subject as ingested.
        const ingested = await whereActiveVersion(
          manager.getRepository(IngestedEventRecord).createQueryBuilder('ev').where('ev.tenantId = :tenantId AND ev.position = :position', { tenantId, position: chain.rootPosition }),
          manager,
          'ev',
          EVENTS_PROJECTION,
        ).getOne();
        if (ingested && ingested.eventId === chain.rootEventId) root = { ...root, type: ingested.type, subject: ingested.subject };
      }

      const nodes = rows.map(toChainNodeView);
      return {
        correlationId: chain.correlationId,
        tenantId: chain.tenantId,
        root,
        nodes,
        edges: nodes.flatMap((node) => (node.causationId !== null ? [{ from: node.causationId, to: node.eventId }] : [])),
        agentIds: chain.agentIds,
        used: { hops: chain.maxHop, decisions: chain.decisions, tokens: chain.tokens, costUsd: chain.costUsd },
        halted: haltOf(chain),
        nodeCount: chain.nodeCount,
        truncated: chain.nodeCount > nodes.length,
        firstPosition: chain.firstPosition,
        lastPosition: chain.lastPosition,
        updatedAt: chain.updatedAt,
      };
    });
  }
}
