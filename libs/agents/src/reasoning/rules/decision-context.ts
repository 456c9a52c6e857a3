import type { AgentKind, DecisionInput, EntityState } from '@meridian/domain';
import type { CloudEventView } from '../../routing/cloud-event-view';

/**
 * What a decision sees. Rule conditions (JSON Logic `var` paths) and action templates
 * (`{{event.subject}}`, `{{entity.state.status}}`, `{{memory.lastOrder}}`) read this shape:
 *
 * - `input`: what is being reacted to (`kind` event | message | task | agent-message, `ref`, `payload`).
 * - `event`: the CloudEvent view `{ type, subject, source, id, time, data, extensions }`, for events.
 * - `message`: `{ from, content }`, for chat messages, tasks and agent messages.
 * - `task`: `{ triggerId, firingId, context }` for a trigger's task; `context` holds the firing
 *   (`firing`, `subject`) and the matched events (`matchedEvents`, and `events` with their data).
 * - `entity`: the folded state of the event's subject (`{ subject, state, eventCount, … }`), or
 *   null when the subject has none yet.
 * - `memory`: the agent's memory (what `remember` actions stored).
 * - `agent`: `{ id, name, kind }` of the deciding agent.
 * - `chain`: `{ correlationId, hop }` of the input's chain (hop of what the decision causes).
 *
 * It must be JSON data (no functions, class instances or cycles): the decision is recorded and
 * replayed from it.
 */
export interface DecisionContext {
  readonly input: DecisionInput;
  /** Earlier inputs decided together with `input` (mailbox policy coalesce, or after an interrupt), oldest first. */
  readonly coalesced?: readonly DecisionInput[];
  readonly event?: CloudEventView;
  readonly message?: { readonly from: string; readonly content: string };
  readonly task?: { readonly triggerId: string; readonly firingId: string; readonly context: unknown };
  readonly entity?: EntityState | null;
  readonly memory: Readonly<Record<string, unknown>>;
  readonly agent: { readonly id: string; readonly name: string; readonly kind: AgentKind };
  /** The chain the input belongs to, and the hop of what this decision causes. */
  readonly chain?: { readonly correlationId: string; readonly hop: number };
}
