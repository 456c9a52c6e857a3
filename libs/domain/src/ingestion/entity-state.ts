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

/**
 * Own-property write: keys such as `__proto__` or `constructor` are data here, never the prototype
 * chain. Only `__proto__` needs defineProperty (assigning it would set the prototype); any other
 * key assigned on an ordinary object is an own data property, and assignment keeps objects fast.
 */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function own(target: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

export function mergeState(base: Readonly<Record<string, unknown>>, patch: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) put(out, key, value);
  for (const [key, value] of Object.entries(patch)) {
    const current = own(out, key);
    if (value === null) {
      delete out[key];
    } else if (isPlainObject(value) && isPlainObject(current)) {
      put(out, key, mergeState(current, value));
    } else {
      put(out, key, value);
    }
  }
  return out;
}

export function evolveEntityState(current: EntityState | null, subject: string, event: EntityEventInput): EntityState {
  const state = isPlainObject(event.data) ? mergeState(current?.state ?? {}, event.data) : { ...(current?.state ?? {}) };
  const typeCounts: Record<string, number> = {};
  for (const [type, count] of Object.entries(current?.typeCounts ?? {})) put(typeCounts, type, count);
  put(typeCounts, event.type, ((own(typeCounts, event.type) as number | undefined) ?? 0) + 1);
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
