import {
  streamName,
  triggerDecider,
  type AppendRequest,
  type EventMetadata,
  type EventStore,
  type RecordedEvent,
  type TriggerEvent,
} from '@meridian/domain';
import type { RuntimeLogger } from '@meridian/agents';
import { conditionInput, type TriggerSpec } from './trigger-workload';

/** What both trigger benchmarks need around the engine: definitions, a clock, a crash, a log. */

const OPS = { kind: 'user', id: 'bench' } as const;

/** The `trigger.defined` event of each spec, decided by the trigger aggregate (so it is validated). */
function definedEvents(specs: readonly TriggerSpec[], at: string): { spec: TriggerSpec; event: TriggerEvent }[] {
  return specs.map((spec) => {
    const [event] = triggerDecider.decide(
      {
        type: 'DefineTrigger',
        data: { triggerId: spec.id, name: spec.id, agentId: 'bench-agent', condition: conditionInput(spec.condition), action: { kind: 'wake-agent', task: `${spec.id} holds` } },
      },
      triggerDecider.initialState(),
      { now: at, actor: OPS, tenantId: 'default', correlationId: `define-${spec.id}`, newId: () => `define-${spec.id}` },
    );
    if (event === undefined) throw new Error(`defining ${spec.id} decided nothing`);
    return { spec, event };
  });
}

function metadataAt(at: string, id: string): EventMetadata {
  return { occurredAt: at, correlationId: `define-${id}`, causationId: null, hop: 0, tenantId: 'default', actor: OPS };
}

/** Appends the definitions to their trigger streams, as the trigger commands do (defined at `at`). */
export async function defineTriggers(store: EventStore, specs: readonly TriggerSpec[], at: string): Promise<void> {
  const requests: AppendRequest[] = definedEvents(specs, at).map(({ spec, event }) => ({
    streamName: streamName('trigger', spec.id),
    events: [{ eventId: `trigger-defined-${spec.id}`, type: event.type, data: event.data, metadata: metadataAt(at, spec.id) }],
    expected: 'no_stream',
  }));
  for (let from = 0; from < requests.length; from += 500) await store.appendMany(requests.slice(from, from + 500));
}

/** The same definitions as stored events, for feeding a `TriggerSet` directly (positions 1..n). */
export function definedRecordedEvents(specs: readonly TriggerSpec[], at: string): RecordedEvent[] {
  return definedEvents(specs, at).map(({ spec, event }, index) => ({
    streamName: streamName('trigger', spec.id),
    revision: 0,
    position: index + 1,
    eventId: `trigger-defined-${spec.id}`,
    type: event.type,
    data: event.data,
    metadata: metadataAt(at, spec.id),
    schemaVersion: 1,
    recordedAt: at,
  }));
}

// The same clock and killable store views as the engine's specs.
export { Clock as FakeClock, killable } from '../../libs/agents/src/triggers/trigger-engine.fixture';

/** Counts the engine's warnings and errors by message, for the report. */
export class CountingLogger implements RuntimeLogger {
  readonly counts = new Map<string, number>();

  info(): void {
    // Not reported.
  }

  warn(_fields: Record<string, unknown>, message: string): void {
    this.add(`warn: ${message}`);
  }

  error(fields: Record<string, unknown>, message: string): void {
    const error = fields.err;
    this.add(`error: ${message}${error instanceof Error ? ` (${error.message})` : ''}`);
  }

  summary(): string {
    return [...this.counts].map(([message, count]) => `${count}× ${message}`).join('; ');
  }

  private add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}
