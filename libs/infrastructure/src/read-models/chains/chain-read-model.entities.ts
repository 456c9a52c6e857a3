import { Column, Entity, PrimaryColumn } from 'typeorm';
import { jsonColumn, numberTransformer, positionColumn, projectionVersionColumn, tenantColumn, timestampColumn } from '../column-types';

/**
 * Read model `chains`: one row per event of a chain an agent took part in (see ChainsProjection for
 * which events). The primary key orders a chain's nodes by global position, so reading a chain is
 * one range scan.
 */
@Entity({ name: 'rm_chain_nodes' })
export class ChainNodeRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'correlation_id', type: 'text' })
  correlationId!: string;

  @PrimaryColumn(positionColumn('position'))
  position!: number;

  @Column({ name: 'event_id', type: 'text' })
  eventId!: string;

  /** The event that caused this one (an edge of the graph); null for a chain's first event. */
  @Column({ name: 'causation_id', type: 'text', nullable: true })
  causationId!: string | null;

  @Column({ name: 'hop', type: 'integer' })
  hop!: number;

  @Column({ name: 'type', type: 'text' })
  type!: string;

  @Column({ name: 'stream_name', type: 'text' })
  streamName!: string;

  /** The agent the event is about (its mailbox or stream, or the agent named in the data), when any. */
  @Column({ name: 'agent_id', type: 'text', nullable: true })
  agentId!: string | null;

  /** The decision the event belongs to (decisions, their actions, messages and memory writes, chain counts). */
  @Column({ name: 'decision_id', type: 'text', nullable: true })
  decisionId!: string | null;

  @Column(timestampColumn('occurred_at'))
  occurredAt!: string;
}

/** Read model `chains`: one row per chain, what it has used and whether it was halted. */
@Entity({ name: 'rm_chains' })
export class ChainRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'correlation_id', type: 'text' })
  correlationId!: string;

  /** The originating event when the chain names it (an agent's mailbox entry for it, or the event itself as a node). */
  @Column({ name: 'root_event_id', type: 'text', nullable: true })
  rootEventId!: string | null;

  @Column({ name: 'root_type', type: 'text', nullable: true })
  rootType!: string | null;

  @Column({ ...positionColumn('root_position'), nullable: true })
  rootPosition!: number | null;

  @Column({ name: 'root_subject', type: 'text', nullable: true })
  rootSubject!: string | null;

  /** Decisions counted against the chain's budget (`chain.decision-counted`, each decision once). */
  @Column({ name: 'decisions', type: 'integer' })
  decisions!: number;

  @Column({ name: 'tokens', type: 'bigint', transformer: numberTransformer })
  tokens!: number;

  @Column({ name: 'cost_usd', type: 'double precision' })
  costUsd!: number;

  /** Largest hop seen: of the nodes and of what the counted decisions cause. */
  @Column({ name: 'max_hop', type: 'integer' })
  maxHop!: number;

  /** Every agent involved, in the order they first appeared. */
  @Column(jsonColumn('agent_ids'))
  agentIds!: string[];

  /** Decision ids already counted: a repeated count is ignored, as the runtime's chain fold does. */
  @Column(jsonColumn('counted_decision_ids'))
  countedDecisionIds!: string[];

  @Column({ name: 'node_count', type: 'integer' })
  nodeCount!: number;

  @Column({ name: 'halted', type: 'boolean' })
  halted!: boolean;

  @Column({ name: 'halt_reason', type: 'varchar', length: 32, nullable: true })
  haltReason!: string | null;

  @Column({ name: 'halt_limit', type: 'double precision', nullable: true })
  haltLimit!: number | null;

  @Column({ name: 'halt_used', type: 'double precision', nullable: true })
  haltUsed!: number | null;

  @Column({ name: 'halted_agent_id', type: 'text', nullable: true })
  haltedAgentId!: string | null;

  @Column({ ...timestampColumn('halted_at'), nullable: true })
  haltedAt!: string | null;

  @Column(positionColumn('first_position'))
  firstPosition!: number;

  @Column(positionColumn('last_position'))
  lastPosition!: number;

  /** When the chain's latest event happened. */
  @Column(timestampColumn('updated_at'))
  updatedAt!: string;
}
