import { v5 as uuidv5 } from 'uuid';

/**
 * Deterministic ids of what the runtime writes. Each is derived from what caused it, so doing the
 * same step again after a crash or a re-delivery produces the same id, and the event store's
 * idempotency by (stream, eventId) — or the aggregate's own duplicate checks — turns the repeat
 * into a no-op instead of a second effect.
 */
const RUNTIME_NAMESPACE = '8a0f3c1e-2b7d-5e94-a6c1-7d3e9f0b2a45';

/** The decision taken on a mailbox entry (the last entry, when several are decided together). */
export function decisionIdFor(agentId: string, mailboxEntryId: string): string {
  return uuidv5(`decision\n${agentId}\n${mailboxEntryId}`, RUNTIME_NAMESPACE);
}

/**
 * The ledger id of a decision cancelled by an interrupt. Distinct from `decisionIdFor`: after a
 * restart the same input may be decided under the decision id the cancelled attempt would have had.
 */
export function cancelledDecisionId(decisionId: string, interruptedBy: string): string {
  return uuidv5(`cancelled\n${decisionId}\n${interruptedBy}`, RUNTIME_NAMESPACE);
}

/** The idempotency key of action `index` of a decision, as sent to webhooks (`Idempotency-Key`). */
export function actionKey(decisionId: string, index: number): string {
  return `${decisionId}:${index}`;
}

/** Id of something action `index` of a decision creates: a reply, a message, an emitted event, an approval. */
export function actionOutputId(decisionId: string, index: number): string {
  return uuidv5(`action\n${decisionId}\n${index}`, RUNTIME_NAMESPACE);
}

/** Event id of the `n`th event written for a runtime step (`step` names the step uniquely). */
export function runtimeEventId(step: string, n: number): string {
  return uuidv5(`event\n${step}\n${n}`, RUNTIME_NAMESPACE);
}

/** The conversation that holds an agent's proposals when its input came from no conversation. */
export function approvalsConversationId(agentId: string): string {
  return uuidv5(`approvals\n${agentId}`, RUNTIME_NAMESPACE);
}
