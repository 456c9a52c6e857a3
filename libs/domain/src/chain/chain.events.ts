import type { ChainHaltReason, ChainUsage } from './chain-budget';

/**
 * Chain events live in their own stream, `<tenant>/chain-<correlationId>`, so "was this chain
 * halted and why" is one stream read, and a halt is recorded once per chain (append with
 * `no_stream`): concurrent agents of the same chain cannot both halt it.
 */
export const CHAIN_STREAM_CATEGORY = 'chain' as const;

export interface ChainHaltedData {
  readonly correlationId: string;
  readonly reason: ChainHaltReason;
  readonly limit: number;
  readonly used: number;
  /** The agent whose step would have gone beyond the limit. */
  readonly agentId: string;
  readonly haltedAt: string;
}

export type ChainHalted = { readonly type: 'chain.halted'; readonly data: ChainHaltedData };

/**
 * One decision taken in the chain, appended in the same commit as the decision itself (expected
 * revision of the chain stream checked), so concurrent agents of one chain cannot both squeeze
 * under a limit. Folding these gives the chain's usage.
 */
export type ChainDecisionCounted = {
  readonly type: 'chain.decision-counted';
  readonly data: {
    readonly correlationId: string;
    readonly agentId: string;
    readonly decisionId: string;
    /** Hop of what the decision causes. */
    readonly hop: number;
    readonly tokens: number;
    readonly costUsd: number;
  };
};

export type ChainEvent = ChainHalted | ChainDecisionCounted;

export const CHAIN_EVENT_TYPES = ['chain.halted', 'chain.decision-counted'] as const satisfies readonly ChainEvent['type'][];

export interface ChainState {
  readonly usage: ChainUsage;
  readonly halted: ChainHaltedData | null;
  readonly decisionIds: ReadonlySet<string>;
}

export const initialChainState = (): ChainState => ({ usage: { hops: 0, decisions: 0, tokens: 0, costUsd: 0 }, halted: null, decisionIds: new Set() });

export function evolveChain(state: ChainState, event: ChainEvent): ChainState {
  switch (event.type) {
    case 'chain.halted':
      return state.halted !== null ? state : { ...state, halted: event.data };
    case 'chain.decision-counted': {
      if (state.decisionIds.has(event.data.decisionId)) return state;
      const { usage } = state;
      return {
        ...state,
        usage: {
          hops: Math.max(usage.hops, event.data.hop),
          decisions: usage.decisions + 1,
          tokens: usage.tokens + event.data.tokens,
          costUsd: usage.costUsd + event.data.costUsd,
        },
        decisionIds: new Set([...state.decisionIds, event.data.decisionId]),
      };
    }
    default:
      return state;
  }
}
