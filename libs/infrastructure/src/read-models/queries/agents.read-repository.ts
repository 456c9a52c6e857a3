import { DEFAULT_TENANT_ID } from '@meridian/domain';
import type { DataSource } from 'typeorm';
import { AgentDecisionRecord, AgentRecord, type DecisionActionRecord } from '../agents/agent-read-model.entities';
import { AGENTS_PROJECTION } from '../agents/agents.projection';
import { withReader } from '../read-model-transactions';
import { whereActiveVersion } from './active-version';
import { decodeCursor, pageLimit, toPage, type Page, type PageRequest } from './pagination';

export type AgentStatusView = AgentRecord['status'];

export interface AgentView {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly kind: string;
  readonly status: AgentStatusView;
  readonly statusReason: string | null;
  /** The AgentDefinition in force. */
  readonly definition: Readonly<Record<string, unknown>>;
  readonly definitionVersion: number;
  /** Stream revision: the ETag, and the If-Match a write must carry. */
  readonly revision: number;
  readonly decisionCount: number;
  readonly messageCount: number;
  readonly memory: Readonly<Record<string, unknown>>;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Global position of the agent's last event. */
  readonly lastPosition: number;
}

export interface AgentDecisionView {
  readonly decisionId: string;
  readonly agentId: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly engine: Readonly<Record<string, unknown>>;
  readonly definitionVersion: number;
  readonly output: unknown;
  readonly actions: readonly DecisionActionRecord[];
  /** Tokens and cost. */
  readonly usage: Readonly<Record<string, unknown>>;
  readonly latencyMs: number;
  readonly correlationId: string;
  /** `decided`, `failed` (see `error`) or `cancelled` (interrupted by a newer input). */
  readonly status: 'decided' | 'failed' | 'cancelled';
  readonly error?: Readonly<Record<string, unknown>>;
  /** Mailbox revision covered, coalesced inputs, hop. */
  readonly placement?: Readonly<Record<string, unknown>>;
  readonly decidedAt: string;
  readonly position: number;
}

export interface AgentListQuery extends PageRequest {
  readonly tenantId?: string;
  /** Only agents in these statuses. Default: every status but `retired`. */
  readonly status?: readonly AgentStatusView[];
}

export function toAgentView(row: AgentRecord): AgentView {
  return {
    id: row.agentId,
    tenantId: row.tenantId,
    name: row.name,
    kind: row.kind,
    status: row.status,
    statusReason: row.statusReason,
    definition: row.definition,
    definitionVersion: row.definitionVersion,
    revision: row.revision,
    decisionCount: row.decisionCount,
    messageCount: row.messageCount,
    memory: row.memory,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    lastPosition: row.lastPosition,
  };
}

export function toAgentDecisionView(row: AgentDecisionRecord): AgentDecisionView {
  return {
    decisionId: row.decisionId,
    agentId: row.agentId,
    input: row.input,
    engine: row.engine,
    definitionVersion: row.definitionVersion,
    output: row.output ?? null,
    actions: row.actions,
    usage: row.usage,
    latencyMs: row.latencyMs,
    correlationId: row.correlationId,
    status: row.status,
    ...(row.error !== null && row.error !== undefined && { error: row.error }),
    ...(row.placement !== null && row.placement !== undefined && { placement: row.placement }),
    decidedAt: row.decidedAt,
    position: row.position,
  };
}

const DEFAULT_STATUSES: readonly AgentStatusView[] = ['active', 'paused'];

/** Agents and their decision ledgers, from the `agents` read model. */
export class AgentsReadRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** In creation order. */
  async list(query: AgentListQuery = {}): Promise<Page<AgentView>> {
    const limit = pageLimit(query.limit);
    const after = decodeCursor(query.cursor) ?? 0;
    const statuses = query.status && query.status.length > 0 ? [...query.status] : [...DEFAULT_STATUSES];
    const rows = await withReader(this.dataSource, (manager) => {
      const builder = manager
        .getRepository(AgentRecord)
        .createQueryBuilder('ag')
        .where('ag.tenantId = :tenantId AND ag.createdPosition > :after AND ag.status IN (:...statuses)', { tenantId: query.tenantId ?? DEFAULT_TENANT_ID, after, statuses });
      return whereActiveVersion(builder, manager, 'ag', AGENTS_PROJECTION)
        .orderBy('ag.createdPosition', 'ASC')
        .take(limit + 1)
        .getMany();
    });
    return toPage(rows, limit, (row) => row.createdPosition, toAgentView);
  }

  /** Any status, retired included (the API decides what a retired agent answers). */
  async get(agentId: string, tenantId: string = DEFAULT_TENANT_ID): Promise<AgentView | null> {
    const row = await withReader(this.dataSource, (manager) => {
      const builder = manager.getRepository(AgentRecord).createQueryBuilder('ag').where('ag.tenantId = :tenantId AND ag.agentId = :agentId', { tenantId, agentId });
      return whereActiveVersion(builder, manager, 'ag', AGENTS_PROJECTION).getOne();
    });
    return row ? toAgentView(row) : null;
  }

  /** The decision ledger of an agent, oldest first. */
  async decisions(agentId: string, query: PageRequest & { readonly tenantId?: string } = {}): Promise<Page<AgentDecisionView>> {
    const limit = pageLimit(query.limit);
    const after = decodeCursor(query.cursor) ?? 0;
    const rows = await withReader(this.dataSource, (manager) => {
      const builder = manager
        .getRepository(AgentDecisionRecord)
        .createQueryBuilder('dc')
        .where('dc.tenantId = :tenantId AND dc.agentId = :agentId AND dc.position > :after', { tenantId: query.tenantId ?? DEFAULT_TENANT_ID, agentId, after });
      return whereActiveVersion(builder, manager, 'dc', AGENTS_PROJECTION)
        .orderBy('dc.position', 'ASC')
        .take(limit + 1)
        .getMany();
    });
    return toPage(rows, limit, (row) => row.position, toAgentDecisionView);
  }
}
