/**
 * Budgets bound one chain (everything caused by one input, sharing its correlationId). The field
 * names match an agent's `budgets`, so an agent's definition can be passed as is.
 */
export interface ChainBudgets {
  /** Largest hop count an event of the chain may carry (the original input is hop 0). */
  readonly maxHops: number;
  readonly maxDecisionsPerChain: number;
  /** Total tokens (input + output) over all decisions of the chain. */
  readonly maxTokensPerChain: number;
  /** Total model cost in USD over all decisions of the chain; no limit when absent. */
  readonly maxCostPerChain?: number;
}

/** What a chain has consumed so far — or would have consumed after the step about to run. */
export interface ChainUsage {
  readonly hops: number;
  readonly decisions: number;
  readonly tokens: number;
  readonly costUsd: number;
}

export const CHAIN_HALT_REASONS = ['max-hops', 'max-decisions', 'max-tokens', 'max-cost'] as const;
export type ChainHaltReason = (typeof CHAIN_HALT_REASONS)[number];

export interface BudgetExceeded {
  readonly reason: ChainHaltReason;
  readonly limit: number;
  readonly used: number;
}

export const DEFAULT_CHAIN_BUDGETS: Readonly<Required<Omit<ChainBudgets, 'maxCostPerChain'>>> = {
  maxHops: 8,
  maxDecisionsPerChain: 20,
  maxTokensPerChain: 20_000,
};

/**
 * The first limit that `used` goes beyond, in the order hops, decisions, tokens, cost; null when
 * the chain is within every limit. Reaching a limit exactly is allowed (maxHops 8 permits hop 8),
 * so callers pass the usage including the step they are about to take and halt on a non-null result.
 */
export function checkBudget(budgets: ChainBudgets, used: ChainUsage): BudgetExceeded | null {
  if (used.hops > budgets.maxHops) return { reason: 'max-hops', limit: budgets.maxHops, used: used.hops };
  if (used.decisions > budgets.maxDecisionsPerChain) {
    return { reason: 'max-decisions', limit: budgets.maxDecisionsPerChain, used: used.decisions };
  }
  if (used.tokens > budgets.maxTokensPerChain) return { reason: 'max-tokens', limit: budgets.maxTokensPerChain, used: used.tokens };
  if (budgets.maxCostPerChain !== undefined && used.costUsd > budgets.maxCostPerChain) {
    return { reason: 'max-cost', limit: budgets.maxCostPerChain, used: used.costUsd };
  }
  return null;
}
