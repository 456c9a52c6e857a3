import type { RecordedEvent } from '@meridian/domain';

/** Brings `data` of one event type from schema version `fromVersion` to `fromVersion + 1`. */
export type UpcastFn = (data: unknown) => unknown;

/**
 * Registry of upcasters, applied by the event store adapters on read. Stored events are never
 * rewritten: an old event keeps its stored schema version and is brought up to date each time it
 * is read, by chaining the registered steps (v1 → v2 → v3 …) until no step is registered.
 */
export class Upcasters {
  private readonly steps = new Map<string, Map<number, UpcastFn>>();

  /** Registers the step from `fromVersion` to `fromVersion + 1` for `type`. */
  register(type: string, fromVersion: number, fn: UpcastFn): this {
    if (!Number.isInteger(fromVersion) || fromVersion < 1) {
      throw new RangeError(`Upcaster for "${type}": fromVersion must be an integer >= 1, got ${fromVersion}`);
    }
    let byVersion = this.steps.get(type);
    if (!byVersion) {
      byVersion = new Map();
      this.steps.set(type, byVersion);
    }
    if (byVersion.has(fromVersion)) {
      // Two steps for the same version would make reads depend on registration order.
      throw new Error(`Upcaster for "${type}" from version ${fromVersion} is already registered`);
    }
    byVersion.set(fromVersion, fn);
    return this;
  }

  /** The version `type` is brought to on read when stored at `fromVersion` (default 1). */
  currentVersion(type: string, fromVersion = 1): number {
    const byVersion = this.steps.get(type);
    let version = fromVersion;
    while (byVersion?.has(version)) version++;
    return version;
  }

  /** The event with its data brought to the latest registered version; the same object when none applies. */
  upcast<E extends RecordedEvent>(event: E): E {
    const byVersion = this.steps.get(event.type);
    if (!byVersion) return event;
    let version = event.schemaVersion;
    let data = event.data;
    let step = byVersion.get(version);
    if (!step) return event;
    while (step) {
      data = step(data);
      version++;
      step = byVersion.get(version);
    }
    return { ...event, data, schemaVersion: version };
  }
}
