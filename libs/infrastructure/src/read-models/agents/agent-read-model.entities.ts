import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { jsonColumn, positionColumn, projectionVersionColumn, tenantColumn, timestampColumn } from '../column-types';

/** Read model `agents`: one row per agent, its current definition and status. */
@Entity({ name: 'rm_agents' })
@Index('ix_rm_agents_created', ['projectionVersion', 'tenantId', 'createdPosition'])
export class AgentRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ name: 'name', type: 'text' })
  name!: string;

  @Column({ name: 'kind', type: 'varchar', length: 32 })
  kind!: string;

  @Column({ name: 'status', type: 'varchar', length: 16 })
  status!: 'active' | 'paused' | 'retired';

  /** Why it was paused or retired, when given. */
  @Column({ name: 'status_reason', type: 'text', nullable: true })
  statusReason!: string | null;

  /** The whole AgentDefinition in force. */
  @Column(jsonColumn('definition'))
  definition!: Record<string, unknown>;

  @Column({ name: 'definition_version', type: 'integer' })
  definitionVersion!: number;

  @Column({ name: 'decision_count', type: 'integer' })
  decisionCount!: number;

  @Column({ name: 'message_count', type: 'integer' })
  messageCount!: number;

  /** What `remember` actions stored, by key. */
  @Column(jsonColumn('memory'))
  memory!: Record<string, unknown>;

  /** Revision of the agent's stream after its last event: the ETag for optimistic concurrency. */
  @Column({ name: 'revision', type: 'integer' })
  revision!: number;

  @Column(timestampColumn('created_at'))
  createdAt!: string;

  @Column(timestampColumn('updated_at'))
  updatedAt!: string;

  /** Position of `agent.defined`: lists are ordered (and paged) by it. */
  @Column(positionColumn('created_position'))
  createdPosition!: number;

  @Column(positionColumn('last_position'))
  lastPosition!: number;
}

/** One action of a decision, with its outcome once recorded. */
export interface DecisionActionRecord {
  readonly index: number;
  readonly action: unknown;
  readonly status: 'pending' | 'succeeded' | 'failed';
  readonly result?: unknown;
  readonly error?: unknown;
}

/** Read model `agent decisions`: the decision ledger, one row per decision. */
@Entity({ name: 'rm_agent_decisions' })
@Index('ix_rm_agent_decisions_agent', ['projectionVersion', 'tenantId', 'agentId', 'position'])
export class AgentDecisionRecord {
  @PrimaryColumn(projectionVersionColumn())
  projectionVersion!: number;

  @PrimaryColumn(tenantColumn())
  tenantId!: string;

  @PrimaryColumn({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @PrimaryColumn({ name: 'decision_id', type: 'text' })
  decisionId!: string;

  @Column(jsonColumn('input'))
  input!: Record<string, unknown>;

  @Column(jsonColumn('engine'))
  engine!: Record<string, unknown>;

  @Column({ name: 'definition_version', type: 'integer' })
  definitionVersion!: number;

  /** The engine's output, verbatim. */
  @Column({ ...jsonColumn('output'), nullable: true })
  output!: unknown;

  @Column(jsonColumn('actions'))
  actions!: DecisionActionRecord[];

  @Column(jsonColumn('usage'))
  usage!: Record<string, unknown>;

  @Column({ name: 'latency_ms', type: 'double precision' })
  latencyMs!: number;

  @Column({ name: 'correlation_id', type: 'text' })
  correlationId!: string;

  /** `decided`, `failed` (the engine could not decide: see `error`) or `cancelled` (interrupted). */
  @Column({ name: 'status', type: 'varchar', length: 16, default: 'decided' })
  status!: 'decided' | 'failed' | 'cancelled';

  @Column({ ...jsonColumn('error'), nullable: true })
  error!: Record<string, unknown> | null;

  /** Mailbox revision covered, inputs coalesced into the decision, hop of what it causes. */
  @Column({ ...jsonColumn('placement'), nullable: true })
  placement!: Record<string, unknown> | null;

  @Column(timestampColumn('decided_at'))
  decidedAt!: string;

  @Column(positionColumn('position'))
  position!: number;
}
