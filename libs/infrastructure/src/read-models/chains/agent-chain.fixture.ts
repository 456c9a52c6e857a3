import {
  CLOUD_EVENT_METADATA_KEY,
  streamName,
  type Actor,
  type AppendRequest,
  type ChainEvent,
  type EventMetadata,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
} from '@meridian/domain';

/**
 * Writes, straight to the event store, what the agent runtime writes for one chain: agent A gets
 * the ingested root in its mailbox, decides (hop 1, counted against the chain), sends agent B a
 * message; B gets it in its mailbox, decides (hop 2, counted), emits a domain event about the
 * root's subject; then the chain is halted. Each decision and its chain count are one commit, as
 * the runtime appends them.
 */
export interface AgentChainOptions {
  readonly store: EventStore;
  /** The ingested event that starts the chain (stored by the ingestion service). */
  readonly root: RecordedEvent;
  readonly agentA: string;
  readonly agentB: string;
  /** Makes event ids unique when several chains share a store. */
  readonly idPrefix: string;
  /** Also re-append A's chain count under a new event id (a count the chain fold must ignore). */
  readonly repeatCount?: boolean;
}

export interface AgentChain {
  readonly correlationId: string;
  readonly tenantId: string;
  readonly ids: {
    readonly mailboxA: string;
    readonly decisionA: string;
    readonly countA: string;
    readonly sentA: string;
    readonly executedA: string;
    readonly mailboxB: string;
    readonly decisionB: string;
    readonly countB: string;
    readonly emittedB: string;
    readonly halted: string;
  };
  readonly decisionIds: readonly [string, string];
  readonly messageId: string;
  /** The subject of the emitted domain event. */
  readonly emittedSubject: string;
  readonly haltedAt: string;
  /** Position of the last event appended. */
  readonly lastPosition: number;
}

const ROUTER: Actor = { kind: 'system', id: 'agent-router' };
const agent = (id: string): Actor => ({ kind: 'agent', id });

export async function appendAgentChain(options: AgentChainOptions): Promise<AgentChain> {
  const { store, root, agentA, agentB, idPrefix } = options;
  const tenantId = root.metadata.tenantId;
  const correlationId = root.metadata.correlationId;
  const id = (name: string) => `${idPrefix}-${name}`;
  const ids = {
    mailboxA: id('mailbox-a'),
    decisionA: id('decision-a'),
    countA: id('count-a'),
    sentA: id('sent-a'),
    executedA: id('executed-a'),
    mailboxB: id('mailbox-b'),
    decisionB: id('decision-b'),
    countB: id('count-b'),
    emittedB: id('emitted-b'),
    halted: id('halted'),
  };
  const decisionIds = [id('d-a'), id('d-b')] as const;
  const messageId = id('msg-1');
  const subject = typeof root.metadata[CLOUD_EVENT_METADATA_KEY] === 'object' ? ((root.metadata[CLOUD_EVENT_METADATA_KEY] as { subject?: string | null }).subject ?? null) : null;
  let tick = 0;
  const meta = (causationId: string, hop: number, actor: Actor): EventMetadata => ({
    occurredAt: new Date(Date.UTC(2026, 3, 1, 12, 0, ++tick)).toISOString(),
    correlationId,
    causationId,
    hop,
    tenantId,
    actor,
  });
  const event = (eventId: string, type: string, data: unknown, metadata: EventMetadata): NewEvent => ({ eventId, type, data, metadata });
  const chainStream = streamName('chain', correlationId, tenantId);
  const counted = (eventId: string, agentId: string, decisionId: string, hop: number, tokens: number, costUsd: number, causationId: string): AppendRequest => {
    const count: ChainEvent = { type: 'chain.decision-counted', data: { correlationId, agentId, decisionId, hop, tokens, costUsd } };
    return { streamName: chainStream, events: [event(eventId, count.type, count.data, meta(causationId, hop, agent(agentId)))], expected: 'any' };
  };
  const usage = (inputTokens: number, outputTokens: number, costUsd: number) => ({ inputTokens, outputTokens, totalTokens: inputTokens + outputTokens, costUsd });

  // The router: the ingested event into A's mailbox (routing is not a hop).
  await store.append(
    streamName('mailbox', agentA, tenantId),
    [
      event(
        ids.mailboxA,
        'mailbox.input-enqueued',
        { agentId: agentA, input: { kind: 'event', ref: root.eventId, position: root.position, type: root.type, ...(subject !== null ? { subject } : {}) }, enqueuedAt: '2026-04-01T12:00:00.000Z' },
        meta(root.eventId, 0, ROUTER),
      ),
    ],
    { expected: 'any' },
  );

  // A decides (hop 1) and its decision is counted against the chain in the same commit.
  await store.appendMany([
    {
      streamName: streamName('agent', agentA, tenantId),
      events: [
        event(
          ids.decisionA,
          'agent.decision-recorded',
          {
            agentId: agentA,
            decisionId: decisionIds[0],
            input: { kind: 'event', ref: root.eventId, payload: { type: root.type } },
            engine: { type: 'llm', provider: 'openai-compatible', model: 'small' },
            definitionVersion: 1,
            output: { text: 'ask B' },
            actions: [{ index: 0, action: { action: 'send-message', to: agentB, content: 'please check' } }],
            usage: usage(100, 20, 0.002),
            latencyMs: 12,
            correlationId,
            mailboxRevision: 0,
            hop: 1,
          },
          meta(ids.mailboxA, 1, agent(agentA)),
        ),
      ],
      expected: 'any',
    },
    counted(ids.countA, agentA, decisionIds[0], 1, 120, 0.002, ids.decisionA),
  ]);
  // A's action: the message it sends, with the action's outcome.
  await store.append(
    streamName('agent', agentA, tenantId),
    [
      event(ids.sentA, 'agent.message-sent', { agentId: agentA, messageId, to: agentB, content: 'please check', decisionId: decisionIds[0], index: 0 }, meta(ids.decisionA, 1, agent(agentA))),
      event(ids.executedA, 'agent.action-executed', { agentId: agentA, decisionId: decisionIds[0], index: 0, action: 'send-message', result: { messageId } }, meta(ids.decisionA, 1, agent(agentA))),
    ],
    { expected: 'any' },
  );
  if (options.repeatCount) await store.appendMany([counted(id('count-a-again'), agentA, decisionIds[0], 1, 120, 0.002, ids.decisionA)]);

  // The router delivers the message to B's mailbox.
  await store.append(
    streamName('mailbox', agentB, tenantId),
    [event(ids.mailboxB, 'mailbox.input-enqueued', { agentId: agentB, input: { kind: 'agent-message', ref: messageId, from: agentA, content: 'please check', to: agentB }, enqueuedAt: '2026-04-01T12:00:05.000Z' }, meta(ids.sentA, 1, ROUTER))],
    { expected: 'any' },
  );

  // B decides (hop 2), counted; it emits a domain event about the root's subject.
  const emittedSubject = subject ?? `${idPrefix}-subject`;
  await store.appendMany([
    {
      streamName: streamName('agent', agentB, tenantId),
      events: [
        event(
          ids.decisionB,
          'agent.decision-recorded',
          {
            agentId: agentB,
            decisionId: decisionIds[1],
            input: { kind: 'agent-message', ref: messageId, payload: { content: 'please check' } },
            engine: { type: 'llm', provider: 'openai-compatible', model: 'small' },
            definitionVersion: 1,
            output: { text: 'flag it' },
            actions: [{ index: 0, action: { action: 'emit-event', type: 'order.flagged', data: { reason: 'checked' } } }],
            usage: usage(250, 50, 0.005),
            latencyMs: 30,
            correlationId,
            mailboxRevision: 0,
            hop: 2,
          },
          meta(ids.mailboxB, 2, agent(agentB)),
        ),
      ],
      expected: 'any',
    },
    counted(ids.countB, agentB, decisionIds[1], 2, 300, 0.005, ids.decisionB),
  ]);
  const emittedMeta = meta(ids.decisionB, 2, agent(agentB));
  await store.append(
    streamName('entity', emittedSubject, tenantId),
    [
      event(ids.emittedB, 'order.flagged', { reason: 'checked' }, {
        ...emittedMeta,
        [CLOUD_EVENT_METADATA_KEY]: { id: ids.emittedB, source: `meridian:agent:${agentB}`, specversion: '1.0', subject: emittedSubject, time: emittedMeta.occurredAt, datacontenttype: null, dataschema: null, extensions: {} },
      }),
    ],
    { expected: 'any' },
  );

  // A third decision would go beyond the chain's decision budget: the chain is halted.
  const haltedAt = '2026-04-01T12:01:00.000Z';
  const halt: ChainEvent = { type: 'chain.halted', data: { correlationId, reason: 'max-decisions', limit: 2, used: 3, agentId: agentA, haltedAt } };
  const last = await store.append(chainStream, [event(ids.halted, halt.type, halt.data, meta(ids.emittedB, 2, agent(agentA)))], { expected: 'any' });

  return { correlationId, tenantId, ids, decisionIds: [decisionIds[0], decisionIds[1]], messageId, emittedSubject, haltedAt, lastPosition: last.position };
}
