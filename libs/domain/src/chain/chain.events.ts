import type { ChainHaltReason } from './chain-budget';

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

export type ChainEvent = ChainHalted;

export const CHAIN_EVENT_TYPES = ['chain.halted'] as const satisfies readonly ChainEvent['type'][];
