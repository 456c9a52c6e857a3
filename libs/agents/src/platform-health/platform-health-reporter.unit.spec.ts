import { streamName, type ChainHaltedData, type CloudEvent, type EventMetadata, type EventStore, type RecordedEvent } from '@meridian/domain';
import { InMemoryEventStore } from '@meridian/infrastructure/event-store/in-memory-event-store';
import type { InboundEventsPort, IngestContext, IngestResult } from '../ingestion/inbound-events.port';
import { IngestEventsService, storedEventId } from '../ingestion/ingest-events.service';
import { cloudEventViewOf } from '../routing/cloud-event-view';
import { InMemoryCheckpointStore } from '../runtime/checkpoint-store.port';
import {
  PLATFORM_HEALTH_ACTOR,
  PLATFORM_SOURCE,
  PlatformHealthReporter,
  type PlatformHealthReporterOptions,
  type ProjectionLagSample,
} from './platform-health-reporter';

const T = 'acme';
const AT = '2026-03-01T10:00:00.000Z';

const metadata = (correlationId: string, tenantId = T): EventMetadata => ({
  occurredAt: AT,
  correlationId,
  causationId: null,
  hop: 1,
  tenantId,
  actor: { kind: 'agent', id: 'someone' },
});

let counter = 0;

async function appendHalt(store: EventStore, correlationId: string, agentId: string, tenantId = T): Promise<number> {
  const data: ChainHaltedData = { correlationId, reason: 'max-decisions', limit: 3, used: 4, agentId, haltedAt: AT };
  const result = await store.append(streamName('chain', correlationId, tenantId), [{ eventId: `halt-${++counter}`, type: 'chain.halted', data, metadata: metadata(correlationId, tenantId) }], { expected: 'any' });
  return result.position;
}

async function appendFailure(
  store: EventStore,
  failure: { agentId: string; decisionId: string; correlationId: string; code: string; input?: { kind: string; ref: string; payload: unknown } },
  tenantId = T,
): Promise<number> {
  const data = {
    agentId: failure.agentId,
    decisionId: failure.decisionId,
    input: failure.input ?? { kind: 'event', ref: 'evt-1', payload: { kind: 'event', ref: 'evt-1', position: 1, type: 'order.placed', subject: 'order-1' } },
    engine: { type: 'llm', provider: 'openai-compatible', model: 'm' },
    definitionVersion: 2,
    error: { code: failure.code, message: `${failure.code} happened` },
    usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 },
    latencyMs: 12,
    correlationId: failure.correlationId,
    mailboxRevision: 0,
  };
  const result = await store.append(streamName('agent', failure.agentId, tenantId), [{ eventId: `failed-${++counter}`, type: 'agent.decision-failed', data, metadata: metadata(failure.correlationId, tenantId) }], { expected: 'any' });
  return result.position;
}

async function platformEvents(store: EventStore, tenantId = T): Promise<RecordedEvent[]> {
  const all = await store.readAll({ filter: { types: ['meridian.*'] } });
  return all.filter((event) => event.streamName.startsWith(`${tenantId}/`) && cloudEventViewOf(event)?.source === PLATFORM_SOURCE);
}

/** Counts what reaches the ingestion path, passing it on. */
class CountingInbound implements InboundEventsPort {
  readonly calls: { events: readonly CloudEvent[]; context: IngestContext }[] = [];

  constructor(private readonly inner: InboundEventsPort) {}

  ingest(events: readonly CloudEvent[], context: IngestContext): Promise<IngestResult> {
    this.calls.push({ events, context });
    return this.inner.ingest(events, context);
  }
}

describe('PlatformHealthReporter', () => {
  let store: InMemoryEventStore;
  let checkpoints: InMemoryCheckpointStore;
  let inbound: CountingInbound;
  const reporters: PlatformHealthReporter[] = [];

  const reporter = (options: Partial<PlatformHealthReporterOptions> = {}) => {
    const created = new PlatformHealthReporter({ store, checkpoints, inbound, now: () => AT, ...options });
    reporters.push(created);
    return created;
  };
  const caughtUp = async (subject: PlatformHealthReporter) => subject.waitUntilProcessed(await store.headPosition());

  beforeEach(() => {
    store = new InMemoryEventStore({ retryInitialDelayMs: 10, pollIntervalMs: 20 });
    checkpoints = new InMemoryCheckpointStore();
    inbound = new CountingInbound(new IngestEventsService(store));
  });
  afterEach(async () => {
    for (const created of reporters.splice(0)) await created.stop();
    await store.close();
  });

  it('given a halted chain, then meridian.chain.halted is ingested once, about the agent, in the chain’s tenant, as a chain of its own', async () => {
    const subject = reporter();
    await subject.start();
    await appendHalt(store, 'corr-1', 'pong');
    await caughtUp(subject);

    const [reported, ...rest] = await platformEvents(store);
    expect(rest).toEqual([]);
    expect(reported.type).toBe('meridian.chain.halted');
    expect(reported.streamName).toBe(streamName('entity', 'pong', T));
    expect(reported.eventId).toBe(storedEventId(T, PLATFORM_SOURCE, 'chain.halted:corr-1'));
    expect(reported.data).toEqual({ correlationId: 'corr-1', reason: 'max-decisions', limit: 3, used: 4, agentId: 'pong', haltedAt: AT });
    expect(cloudEventViewOf(reported)).toMatchObject({ id: 'chain.halted:corr-1', source: PLATFORM_SOURCE, subject: 'pong', time: AT });
    expect(reported.metadata).toMatchObject({ correlationId: reported.eventId, hop: 0, actor: PLATFORM_HEALTH_ACTOR, tenantId: T });
    expect(await checkpoints.load('platform-health')).toBe(subject.position);
  });

  it('given the events are delivered again (checkpoint lost), then nothing is reported twice', async () => {
    await appendHalt(store, 'corr-1', 'pong');
    await appendFailure(store, { agentId: 'a-1', decisionId: 'd-1', correlationId: 'corr-2', code: 'LLM_TIMEOUT' });
    const first = reporter();
    await first.start();
    await caughtUp(first);
    await first.stop();
    expect(await platformEvents(store)).toHaveLength(2);

    const again = reporter({ checkpoints: new InMemoryCheckpointStore() });
    await again.start();
    await caughtUp(again);
    expect(inbound.calls.length).toBeGreaterThanOrEqual(2);
    expect((await platformEvents(store)).map((event) => event.type)).toEqual(['meridian.chain.halted', 'meridian.decision.failed']);
  });

  it('given a failed decision, then meridian.decision.failed says which agent, which decision, why and on what input', async () => {
    const subject = reporter();
    await subject.start();
    await appendFailure(store, { agentId: 'writer', decisionId: 'd-9', correlationId: 'corr-9', code: 'LLM_INVALID_OUTPUT' });
    await caughtUp(subject);
    const [reported] = await platformEvents(store);
    expect(reported.type).toBe('meridian.decision.failed');
    expect(reported.streamName).toBe(streamName('entity', 'writer', T));
    expect(reported.data).toEqual({
      agentId: 'writer',
      decisionId: 'd-9',
      correlationId: 'corr-9',
      error: { code: 'LLM_INVALID_OUTPUT', message: 'LLM_INVALID_OUTPUT happened' },
      input: { kind: 'event', ref: 'evt-1', type: 'order.placed', subject: 'order-1' },
      engine: { type: 'llm', provider: 'openai-compatible', model: 'm' },
      definitionVersion: 2,
      failedAt: AT,
    });
  });

  it('given a halted chain, then the decisions it refuses (CHAIN_HALTED, CHAIN_BUDGET_EXCEEDED) are not reported: the halt is, once', async () => {
    const subject = reporter();
    await subject.start();
    await appendHalt(store, 'corr-1', 'ping');
    await appendFailure(store, { agentId: 'ping', decisionId: 'd-1', correlationId: 'corr-1', code: 'CHAIN_BUDGET_EXCEEDED' });
    await appendFailure(store, { agentId: 'pong', decisionId: 'd-2', correlationId: 'corr-1', code: 'CHAIN_HALTED' });
    await caughtUp(subject);
    expect((await platformEvents(store)).map((event) => event.type)).toEqual(['meridian.chain.halted']);
  });

  it('given a restart after the halt was handled, then a later refusal in that chain is still recognised from the chain stream', async () => {
    await appendHalt(store, 'corr-1', 'ping');
    const first = reporter();
    await first.start();
    await caughtUp(first);
    await first.stop();
    const saved = await checkpoints.load('platform-health');
    const restarted = reporter({ checkpoints: { load: async () => saved, save: async () => undefined } });
    await appendFailure(store, { agentId: 'pong', decisionId: 'd-2', correlationId: 'corr-1', code: 'CHAIN_HALTED' });
    await restarted.start();
    await caughtUp(restarted);
    expect((await platformEvents(store)).map((event) => event.type)).toEqual(['meridian.chain.halted']);
  });

  it('given a chain code without any halt recorded, then the failure is reported (nothing else would tell)', async () => {
    const subject = reporter();
    await subject.start();
    await appendFailure(store, { agentId: 'a', decisionId: 'd-odd', correlationId: 'corr-odd', code: 'CHAIN_HALTED' });
    await caughtUp(subject);
    expect((await platformEvents(store)).map((event) => (event.data as { decisionId: string }).decisionId)).toEqual(['d-odd']);
  });

  it('given a decision on a meridian.* event fails, then it is not reported (a monitor would report itself forever)', async () => {
    const logged: string[] = [];
    const subject = reporter({ logger: { info: () => undefined, warn: (_fields, message) => logged.push(message), error: () => undefined } });
    await subject.start();
    await appendFailure(store, {
      agentId: 'monitor',
      decisionId: 'd-m',
      correlationId: 'corr-m',
      code: 'RULE_TEMPLATE_FAILED',
      input: { kind: 'event', ref: 'evt-p', payload: { kind: 'event', ref: 'evt-p', position: 3, type: 'meridian.decision.failed', subject: 'x' } },
    });
    await caughtUp(subject);
    expect(await platformEvents(store)).toEqual([]);
    expect(logged).toEqual(['decision on a platform event failed; not reported as a platform event']);
  });

  it('given a chain started by a platform event halts or fails further down, then neither is reported, also after a restart', async () => {
    const subject = reporter();
    await subject.start();
    await appendHalt(store, 'corr-root', 'pong');
    await caughtUp(subject);
    const [root] = await platformEvents(store);
    // The monitor's reaction messages an on-call agent, whose decision fails, and that chain halts.
    await appendFailure(store, { agentId: 'oncall', decisionId: 'd-o', correlationId: root.eventId, code: 'LLM_TIMEOUT', input: { kind: 'agent-message', ref: 'm-1', payload: { kind: 'agent-message' } } });
    await appendHalt(store, root.eventId, 'oncall');
    await caughtUp(subject);
    expect(await platformEvents(store)).toHaveLength(1);

    await subject.stop();
    const restarted = reporter();
    await appendFailure(store, { agentId: 'oncall', decisionId: 'd-o2', correlationId: root.eventId, code: 'LLM_TIMEOUT', input: { kind: 'agent-message', ref: 'm-2', payload: { kind: 'agent-message' } } });
    await restarted.start();
    await caughtUp(restarted);
    expect(await platformEvents(store)).toHaveLength(1);
  });

  it('given events of several tenants, then each report goes to its own tenant', async () => {
    const subject = reporter();
    await subject.start();
    await appendHalt(store, 'corr-a', 'agent-a', 'tenant-a');
    await appendHalt(store, 'corr-b', 'agent-b', 'tenant-b');
    await caughtUp(subject);
    expect((await platformEvents(store, 'tenant-a')).map((event) => event.streamName)).toEqual([streamName('entity', 'agent-a', 'tenant-a')]);
    expect((await platformEvents(store, 'tenant-b')).map((event) => event.streamName)).toEqual([streamName('entity', 'agent-b', 'tenant-b')]);
  });

  it('given an ingested event merely named agent.decision-failed or chain.halted, then it is not mistaken for the runtime’s', async () => {
    const subject = reporter();
    await subject.start();
    await new IngestEventsService(store).ingest(
      [
        { specversion: '1.0', id: 'x-1', source: 'urn:other', type: 'chain.halted', subject: 'thing', data: { correlationId: 'c' } },
        { specversion: '1.0', id: 'x-2', source: 'urn:other', type: 'agent.decision-failed', subject: 'thing', data: {} },
      ],
      { tenantId: T, actor: { kind: 'api-key', id: 'k' }, requestId: 'r', receivedAt: AT },
    );
    await caughtUp(subject);
    expect(await platformEvents(store)).toEqual([]);
  });

  describe('projection lag', () => {
    it('given samples crossing the threshold, then one report per crossing, with the projection as subject', async () => {
      let samples: ProjectionLagSample[] = [];
      const subject = reporter({ projectionLag: { sample: async () => samples, thresholdEvents: 100, tenantId: T } });
      samples = [{ projection: 'entities', lag: 50 }];
      await subject.checkProjectionLag();
      samples = [{ projection: 'entities', lag: 150, checkpoint: 10, head: 160 }, { projection: 'agents', lag: 100 }];
      await subject.checkProjectionLag();
      samples = [{ projection: 'entities', lag: 500 }];
      await subject.checkProjectionLag();
      samples = [{ projection: 'entities', lag: 20 }];
      await subject.checkProjectionLag();
      samples = [{ projection: 'entities', lag: 101 }];
      await subject.checkProjectionLag();

      const reported = await platformEvents(store);
      expect(reported.map((event) => [event.type, cloudEventViewOf(event)?.subject, event.data])).toEqual([
        ['meridian.projection.lagging', 'entities', { projection: 'entities', lag: 150, threshold: 100, checkpoint: 10, head: 160 }],
        ['meridian.projection.lagging', 'entities', { projection: 'entities', lag: 101, threshold: 100 }],
      ]);
    });

    it('given a started reporter with a lag watch, then it samples on its own interval', async () => {
      const subject = reporter({ projectionLag: { sample: async () => [{ projection: 'chains', lag: 20_000 }], intervalMs: 20, tenantId: T } });
      await subject.start();
      for (let i = 0; i < 200 && (await platformEvents(store)).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      const reported = await platformEvents(store);
      expect(reported.map((event) => event.data)).toEqual([{ projection: 'chains', lag: 20_000, threshold: 10_000 }]);
    });

    it('reportProjectionLag reports directly, to the default tenant unless told otherwise', async () => {
      await reporter().reportProjectionLag({ projection: 'events', lag: 12_345 });
      expect((await platformEvents(store, 'default')).map((event) => event.data)).toEqual([{ projection: 'events', lag: 12_345, threshold: 10_000 }]);
    });
  });

});
