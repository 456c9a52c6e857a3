/**
 * Events and commands are discriminated unions of `{ type, data }`; everything about the
 * circumstances (who, when, which chain) travels separately as metadata.
 */
export interface Event<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

export interface Command<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

/** Who caused something. Every stored event records one. */
export interface Actor {
  readonly kind: 'user' | 'api-key' | 'agent' | 'system';
  readonly id: string;
}

export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'meridian' };
export const DEFAULT_TENANT_ID = 'default';

/**
 * The circumstances of an event. `hop` counts how far from the chain's original input this event
 * is; budgets are enforced per `correlationId` (the chain).
 */
export interface EventMetadata {
  readonly occurredAt: string;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly hop: number;
  readonly tenantId: string;
  readonly actor: Actor;
  readonly traceparent?: string;
  /** Free-form extras (source system ids, request ids); never interpreted by the store. */
  readonly [extra: string]: unknown;
}

/**
 * What a command handler passes to `decide`: time and ids come from here, never from
 * `new Date()` or a random generator inside a decider, so deciders stay pure and testable.
 */
export interface CommandContext {
  readonly now: string;
  readonly actor: Actor;
  readonly tenantId: string;
  readonly correlationId: string;
  /** Id generator for ids that a decision creates (message ids, approval ids). */
  readonly newId: () => string;
}
