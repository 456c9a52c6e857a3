import type { GlobalPosition } from '@meridian/domain';

/**
 * Where a checkpointed subscription remembers how far it got: the global position of the last
 * event it has fully handled, under a name (one per consumer, e.g. `agent-router`). 0 means
 * "nothing handled yet". The runtime provides a durable implementation; `InMemoryCheckpointStore`
 * serves tests and throwaway runs.
 */
export interface CheckpointStore {
  load(name: string): Promise<GlobalPosition>;
  save(name: string, position: GlobalPosition): Promise<void>;
}

/** Checkpoints in process memory: forgotten on restart, which only costs re-delivery to idempotent consumers. */
export class InMemoryCheckpointStore implements CheckpointStore {
  private readonly positions = new Map<string, GlobalPosition>();

  async load(name: string): Promise<GlobalPosition> {
    return this.positions.get(name) ?? 0;
  }

  async save(name: string, position: GlobalPosition): Promise<void> {
    this.positions.set(name, position);
  }
}
