import { checkBudget, type ChainBudgets, type ChainUsage } from './chain-budget';

const budgets: ChainBudgets = { maxHops: 8, maxDecisionsPerChain: 20, maxTokensPerChain: 20_000, maxCostPerChain: 0.5 };
const within: ChainUsage = { hops: 3, decisions: 5, tokens: 1_000, costUsd: 0.01 };

describe('checkBudget', () => {
  it('returns null while every limit holds', () => {
    expect(checkBudget(budgets, within)).toBeNull();
  });

  it('allows reaching a limit exactly', () => {
    expect(checkBudget(budgets, { hops: 8, decisions: 20, tokens: 20_000, costUsd: 0.5 })).toBeNull();
  });

  it.each([
    [{ hops: 9 }, { reason: 'max-hops', limit: 8, used: 9 }],
    [{ decisions: 21 }, { reason: 'max-decisions', limit: 20, used: 21 }],
    [{ tokens: 20_001 }, { reason: 'max-tokens', limit: 20_000, used: 20_001 }],
    [{ costUsd: 0.51 }, { reason: 'max-cost', limit: 0.5, used: 0.51 }],
  ])('reports the exceeded limit for %j', (over, expected) => {
    expect(checkBudget(budgets, { ...within, ...over })).toEqual(expected);
  });

  it('reports the first exceeded limit in the order hops, decisions, tokens, cost', () => {
    const everythingOver: ChainUsage = { hops: 100, decisions: 100, tokens: 100_000, costUsd: 10 };
    expect(checkBudget(budgets, everythingOver)?.reason).toBe('max-hops');
    expect(checkBudget(budgets, { ...everythingOver, hops: 1 })?.reason).toBe('max-decisions');
    expect(checkBudget(budgets, { ...everythingOver, hops: 1, decisions: 1 })?.reason).toBe('max-tokens');
  });

  it('puts no limit on cost when the budget has none', () => {
    const { maxCostPerChain: _omitted, ...withoutCost } = budgets;
    expect(checkBudget(withoutCost, { ...within, costUsd: 1_000 })).toBeNull();
  });
});
