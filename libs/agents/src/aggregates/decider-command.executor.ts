import { randomUUID } from 'node:crypto';
import {
  ConcurrencyConflictError,
  type CommandContext,
  type Decider,
  type Event,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
} from '@meridian/domain';

export interface ExecuteOptions<S, C, E extends Event> {
  readonly decider: Decider<S, C, E>;
  readonly streamName: string;
  readonly command: C;
  readonly context: CommandContext;
  /** The revision the client last saw (HTTP If-Match). A mismatch is a conflict, never retried. */
  readonly expectedRevision?: number;
  /** Chain bookkeeping for commands caused by another event (runtime); HTTP commands start at hop 0. */
  readonly causationId?: string | null;
  readonly hop?: number;
}

export interface ExecuteResult<S, E extends Event> {
  readonly state: S;
  readonly events: readonly E[];
  /** Stream revision after the command (-1: the stream still does not exist). */
  readonly revision: number;
  /** Global position of the last event written (0 when nothing was written). */
  readonly position: number;
}

/** Without a client precondition, a conflict only means someone wrote in between: decide again. */
const MAX_ATTEMPTS = 5;

/**
 * Runs one command against an event-sourced aggregate: load its stream, fold, decide, append with
 * the exact expected revision. This is the only way aggregates are written.
 */
export class DeciderCommandExecutor {
  constructor(private readonly store: EventStore) {}

  async load<S, C, E extends Event>(decider: Decider<S, C, E>, streamName: string, toPosition?: number): Promise<{ state: S; revision: number }> {
    const recorded = await this.store.readStream(streamName, toPosition !== undefined ? { toPosition } : {});
    let state = decider.initialState();
    for (const event of recorded) state = decider.evolve(state, { type: event.type, data: event.data } as E);
    return { state, revision: recorded.length > 0 ? recorded[recorded.length - 1].revision : -1 };
  }

  async execute<S, C, E extends Event>(options: ExecuteOptions<S, C, E>): Promise<ExecuteResult<S, E>> {
    const { decider, streamName, command, context } = options;
    for (let attempt = 1; ; attempt++) {
      const { state, revision } = await this.load(decider, streamName);
      if (options.expectedRevision !== undefined && options.expectedRevision !== revision) {
        throw new ConcurrencyConflictError(streamName, options.expectedRevision, revision < 0 ? 'no_stream' : revision, 'If-Match precondition failed');
      }
      const events = decider.decide(command, state, context);
      if (events.length === 0) return { state, events, revision, position: 0 };
      const expected: ExpectedRevision = revision < 0 ? 'no_stream' : revision;
      try {
        const result = await this.store.append(streamName, events.map((e) => this.toNewEvent(e, options)), { expected });
        const next = events.reduce((s, e) => decider.evolve(s, e), state);
        return { state: next, events, revision: result.nextExpectedRevision, position: result.position };
      } catch (error) {
        const retry = error instanceof ConcurrencyConflictError && options.expectedRevision === undefined && attempt < MAX_ATTEMPTS;
        if (!retry) throw error;
      }
    }
  }

  private toNewEvent<S, C, E extends Event>(event: E, options: ExecuteOptions<S, C, E>): NewEvent {
    const { context } = options;
    const metadata: EventMetadata = {
      occurredAt: context.now,
      correlationId: context.correlationId,
      causationId: options.causationId ?? null,
      hop: options.hop ?? 0,
      tenantId: context.tenantId,
      actor: context.actor,
    };
    return { eventId: randomUUID(), type: event.type, data: event.data, metadata };
  }
}
