import { Type, type Static } from '@sinclair/typebox';
import type { AgentState } from '@meridian/domain';
import type { AgentView as AgentReadModelView } from '@meridian/infrastructure/read-models';

/** The agent as the API shows it (API.md "Agents"). */
export const AgentViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.Optional(Type.String()),
    kind: Type.String(),
    instructions: Type.Optional(Type.String()),
    subscriptions: Type.Array(Type.Unknown()),
    engine: Type.Unknown(),
    tools: Type.Array(Type.String()),
    budgets: Type.Unknown(),
    mailboxPolicy: Type.String(),
    tags: Type.Optional(Type.Array(Type.String())),
    approvals: Type.Optional(Type.Unknown()),
    status: Type.Union([Type.Literal('active'), Type.Literal('paused'), Type.Literal('retired')]),
    version: Type.Integer({ description: 'Definition version' }),
    revision: Type.Integer({ description: 'Stream revision; the ETag of this agent' }),
  },
  { $id: 'Agent' },
);
export type AgentView = Static<typeof AgentViewSchema>;

export function agentViewFromState(state: AgentState, revision: number): AgentView | null {
  if (state === null) return null;
  const { definition } = state;
  return {
    id: state.id,
    name: definition.name,
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    kind: definition.kind,
    ...(definition.instructions !== undefined ? { instructions: definition.instructions } : {}),
    subscriptions: [...definition.subscriptions],
    engine: definition.engine,
    tools: [...definition.tools],
    budgets: definition.budgets,
    mailboxPolicy: definition.mailboxPolicy,
    ...(definition.tags !== undefined ? { tags: [...definition.tags] } : {}),
    ...(definition.approvals !== undefined ? { approvals: definition.approvals } : {}),
    status: state.status,
    version: state.version,
    revision,
  };
}

/** The read model's row in the same shape, so reads and writes answer alike. */
export function agentViewFromReadModel(agent: AgentReadModelView): AgentView & { createdAt: string; updatedAt: string; decisionCount: number; messageCount: number } {
  const definition = agent.definition as Omit<AgentView, 'id' | 'status' | 'version' | 'revision'>;
  return {
    id: agent.id,
    ...definition,
    status: agent.status,
    version: agent.definitionVersion,
    revision: agent.revision,
    decisionCount: agent.decisionCount,
    messageCount: agent.messageCount,
    createdAt: agent.createdAt,
    updatedAt: agent.updatedAt,
  };
}
