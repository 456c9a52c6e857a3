import { evolveEntityState, streamName, type EntityState, type EventStore, type RecordedEvent } from '@meridian/domain';
import { cloudEventViewOf } from '../routing/cloud-event-view';

interface Folded {
  readonly state: EntityState | null;
  readonly revision: number;
  readonly position: number;
}

const MAX_CACHED_ENTITIES = 10_000;

/**
 * The folded state of a subject as of a global position, read from the store (not from the read
 * model, which may lag): a decision about event E sees the entity exactly as it was after E, so
 * deciding again after a restart sees the same thing. The latest fold per subject is cached and
 * extended incrementally; asking for an earlier position than the cached one folds from scratch.
 */
export class EntityStateReader {
  private readonly cache = new Map<string, Folded>();

  constructor(private readonly store: EventStore) {}

  async stateAt(tenantId: string, subject: string, position: number): Promise<EntityState | null> {
    const stream = streamName('entity', subject, tenantId);
    const cached = this.cache.get(stream);
    let base: Folded = cached !== undefined && cached.position <= position ? cached : { state: null, revision: -1, position: 0 };
    const events = await this.store.readStream(stream, { fromRevision: base.revision + 1, toPosition: position });
    base = events.reduce<Folded>((folded, event) => ({ state: fold(folded.state, subject, event), revision: event.revision, position: event.position }), base);
    if (cached === undefined || base.position >= cached.position) {
      this.cache.delete(stream);
      this.cache.set(stream, base);
      if (this.cache.size > MAX_CACHED_ENTITIES) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
    }
    return base.state;
  }
}

function fold(state: EntityState | null, subject: string, event: RecordedEvent): EntityState {
  const view = cloudEventViewOf(event);
  return evolveEntityState(state, subject, { type: event.type, data: event.data, time: view?.time ?? event.recordedAt });
}
