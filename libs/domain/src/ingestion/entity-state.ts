/**
 * Domain awareness: for each subject, the state folded from its domain events. The fold is generic
 * because Meridian does not know the business schemas: object payloads are deep-merged in arrival
 * order (later values win, `null` deletes a key), so the state is "the latest known value of every
 * field" of the entity.
 */
export interface EntityState {
  readonly subject: string;
  readonly state: Readonly<Record<string, unknown>>;
  readonly eventCount: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly lastEventType: string;
  /** Per type, how many events of it the entity received. */
  readonly typeCounts: Readonly<Record<string, number>>;
}

export interface EntityEventInput {
  readonly type: string;
  readonly data: unknown;
  readonly time: string;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function mergeState(base: Readonly<Record<string, unknown>>, patch: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[key];
    } else if (isPlainObject(value) && isPlainObject(out[key])) {
      out[key] = mergeState(out[key] as Record<string, unknown>, value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

export function evolveEntityState(current: EntityState | null, subject: string, event: EntityEventInput): EntityState {
  const state = isPlainObject(event.data) ? mergeState(current?.state ?? {}, event.data) : { ...(current?.state ?? {}) };
  const typeCounts = { ...(current?.typeCounts ?? {}) };
  typeCounts[event.type] = (typeCounts[event.type] ?? 0) + 1;
  return {
    subject,
    state,
    eventCount: (current?.eventCount ?? 0) + 1,
    firstSeen: current?.firstSeen ?? event.time,
    lastSeen: event.time,
    lastEventType: event.type,
    typeCounts,
  };
}
