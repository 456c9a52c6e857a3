import { fold, type Decider } from './decider';
import { DomainError, type DomainErrorKind } from './domain-error';
import { DEFAULT_TENANT_ID, type CommandContext } from './event';

/**
 * Given/When/Then specifications for deciders:
 *
 *   DeciderSpecification.for(agentDecider)
 *     .given([agentDefined])
 *     .when({ type: 'PauseAgent', data: { agentId } })
 *     .then([agentPaused]);                 // or .thenThrows('AGENT_RETIRED', 'gone')
 *
 * It depends on no test framework: a mismatch throws a `DeciderSpecificationError`, which fails
 * whichever test runs it. The object returned by `when` has a `then` method, so it must not be
 * returned from an async function or awaited (it would be taken for a promise).
 */
export class DeciderSpecificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeciderSpecificationError';
  }
}

/** Fixed time, actor, tenant and correlation; `newId` yields `id-1`, `id-2`, … per context. */
export function testCommandContext(overrides: Partial<CommandContext> = {}): CommandContext {
  let counter = 0;
  return {
    now: '2026-01-01T00:00:00.000Z',
    actor: { kind: 'user', id: 'user-1' },
    tenantId: DEFAULT_TENANT_ID,
    correlationId: 'correlation-1',
    newId: () => `id-${++counter}`,
    ...overrides,
  };
}

export interface DeciderThen<Evt> {
  /** Decide must return exactly these events, in order (deep equality; undefined fields are ignored). */
  then(expected: readonly Evt[]): void;
  /** Decide must return no events (an idempotent no-op). */
  thenNothingHappens(): void;
  /** Decide must throw a DomainError with this code (and kind, when given); returns it for further checks. */
  thenThrows(code: string, kind?: DomainErrorKind): DomainError;
}

export interface DeciderWhen<Cmd, Evt> {
  /** `context` fields override `testCommandContext()`. */
  when(command: Cmd, context?: Partial<CommandContext>): DeciderThen<Evt>;
}

export interface DeciderGiven<Cmd, Evt> {
  given(events: readonly Evt[]): DeciderWhen<Cmd, Evt>;
}

export const DeciderSpecification = {
  for<State, Cmd, Evt>(decider: Decider<State, Cmd, Evt>): DeciderGiven<Cmd, Evt> {
    return {
      given: (events) => ({
        when: (command, context) => thenFor(decider, events, command, testCommandContext(context)),
      }),
    };
  },
};

type Outcome<Evt> = { readonly ok: true; readonly events: Evt[] } | { readonly ok: false; readonly error: unknown };

function thenFor<State, Cmd, Evt>(
  decider: Decider<State, Cmd, Evt>,
  given: readonly Evt[],
  command: Cmd,
  context: CommandContext,
): DeciderThen<Evt> {
  const run = (): Outcome<Evt> => {
    const state = fold(decider, given);
    try {
      return { ok: true, events: decider.decide(command, state, context) };
    } catch (error) {
      return { ok: false, error };
    }
  };

  const then = (expected: readonly Evt[]): void => {
    const outcome = run();
    if (!outcome.ok) {
      throw new DeciderSpecificationError(`Expected events ${show(expected)}\nbut decide threw ${describeError(outcome.error)}`);
    }
    const difference = firstDifference(expected, outcome.events, '');
    if (difference !== null) {
      throw new DeciderSpecificationError(
        `Events differ ${difference}\nexpected: ${show(expected)}\nreceived: ${show(outcome.events)}`,
      );
    }
    // The produced events must also fold: an evolve that chokes on them is a bug too.
    try {
      fold(decider, [...given, ...outcome.events]);
    } catch (error) {
      throw new DeciderSpecificationError(`evolve failed on the produced events: ${describeError(error)}`);
    }
  };

  return {
    then,
    thenNothingHappens: () => then([]),
    thenThrows: (code, kind) => {
      const outcome = run();
      if (outcome.ok) {
        throw new DeciderSpecificationError(`Expected DomainError ${code} but decide returned ${show(outcome.events)}`);
      }
      const error = outcome.error;
      if (!(error instanceof DomainError)) {
        throw new DeciderSpecificationError(`Expected DomainError ${code} but decide threw ${describeError(error)}`);
      }
      if (error.code !== code) {
        throw new DeciderSpecificationError(`Expected DomainError ${code} but got ${describeError(error)}`);
      }
      if (kind !== undefined && error.kind !== kind) {
        throw new DeciderSpecificationError(`Expected DomainError ${code} of kind ${kind} but its kind is ${error.kind}`);
      }
      return error;
    },
  };
}

function describeError(error: unknown): string {
  if (error instanceof DomainError) return `DomainError ${error.code} (${error.kind}): ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return show(error);
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, inner: unknown) => (inner instanceof Set ? [...inner] : inner), 2) ?? String(value);
  } catch {
    return String(value);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Where `actual` first departs from `expected`, or null when they are deeply equal. Object keys whose
 * value is undefined count as absent, as optional fields are left out of events.
 */
export function firstDifference(expected: unknown, actual: unknown, path: string): string | null {
  const here = path === '' ? '(root)' : path;
  if (Object.is(expected, actual)) return null;
  if (Array.isArray(expected) || Array.isArray(actual)) {
    if (!Array.isArray(expected) || !Array.isArray(actual)) return `at ${here}: expected ${show(expected)}, received ${show(actual)}`;
    if (expected.length !== actual.length) return `at ${here}: expected ${expected.length} items, received ${actual.length}`;
    for (let index = 0; index < expected.length; index++) {
      const difference = firstDifference(expected[index], actual[index], `${path}[${index}]`);
      if (difference !== null) return difference;
    }
    return null;
  }
  if (expected instanceof Set || actual instanceof Set) {
    if (!(expected instanceof Set) || !(actual instanceof Set)) return `at ${here}: expected ${show(expected)}, received ${show(actual)}`;
    const same = expected.size === actual.size && [...expected].every((item) => actual.has(item));
    return same ? null : `at ${here}: expected set ${show(expected)}, received ${show(actual)}`;
  }
  if (isRecord(expected) && isRecord(actual)) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const key of keys) {
      if (expected[key] === undefined && actual[key] === undefined) continue;
      const difference = firstDifference(expected[key], actual[key], path === '' ? key : `${path}.${key}`);
      if (difference !== null) return difference;
    }
    return null;
  }
  return `at ${here}: expected ${show(expected)}, received ${show(actual)}`;
}
