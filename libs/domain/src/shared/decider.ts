import type { CommandContext } from './event';

/**
 * An aggregate as a decider: `decide` validates a command against the current state and returns the
 * events it causes (or throws a DomainError); `evolve` folds one event into the state.
 * Both are pure.
 */
export interface Decider<State, Cmd, Evt> {
  decide(command: Cmd, state: State, context: CommandContext): Evt[];
  evolve(state: State, event: Evt): State;
  initialState(): State;
}

export function fold<State, Evt>(decider: Pick<Decider<State, unknown, Evt>, 'evolve' | 'initialState'>, events: readonly Evt[]): State {
  return events.reduce((state, event) => decider.evolve(state, event), decider.initialState());
}

/** Compile-time exhaustiveness check for switches over discriminated unions. */
export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}
