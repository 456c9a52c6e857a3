import { agentDecider, DomainError, streamName } from '@meridian/domain';
import type { DeciderCommandExecutor } from '@meridian/agents';

/** An agent id named in a request body, with the JSON pointer of where it was named. */
export interface AgentReference {
  readonly agentId: string;
  readonly path: string;
}

/**
 * Conversations and triggers name agents they do not own. Each named agent must exist and not be
 * retired when the command is accepted: checked against the agent's own stream (the write model),
 * not a read model that may lag. The answer is 422: the request is well-formed but refers to
 * something unusable. A paused agent is accepted, since it can be resumed.
 *
 * The check and the write are not atomic: an agent retired in between still ends up referenced,
 * which its own lifecycle (a retired agent does not react) already covers.
 */
export async function requireActiveAgents(executor: DeciderCommandExecutor, tenantId: string, references: readonly AgentReference[]): Promise<void> {
  const states = await Promise.all(references.map(async (ref) => ({ ref, state: (await executor.load(agentDecider, streamName('agent', ref.agentId, tenantId))).state })));
  const missing = states.filter(({ state }) => state === null).map(({ ref }) => ref);
  if (missing.length > 0) {
    throw new DomainError('AGENT_NOT_FOUND', 'unprocessable', `No agent ${missing.map((ref) => ref.agentId).join(', ')} exists`, {
      agentIds: missing.map((ref) => ref.agentId),
      errors: missing.map((ref) => ({ path: ref.path, message: `agent "${ref.agentId}" does not exist` })),
    });
  }
  const retired = states.filter(({ state }) => state !== null && state.status === 'retired').map(({ ref }) => ref);
  if (retired.length > 0) {
    throw new DomainError('AGENT_RETIRED', 'unprocessable', `Agent ${retired.map((ref) => ref.agentId).join(', ')} is retired`, {
      agentIds: retired.map((ref) => ref.agentId),
      errors: retired.map((ref) => ({ path: ref.path, message: `agent "${ref.agentId}" is retired` })),
    });
  }
}
