import { checkLlmPriceTable, parseLlmPriceTable, EMPTY_LLM_PRICE_TABLE, llmCostUsd, type LlmPriceTable } from './llm-price-table';

describe('LLM price table', () => {
  const table: LlmPriceTable = {
    'gpt-4o-mini': { inputUsdPerMillion: 0.15, outputUsdPerMillion: 0.6 },
    'ollama/gpt-4o-mini': { inputUsdPerMillion: 0, outputUsdPerMillion: 0 },
    'big-model': { inputUsdPerMillion: 3, outputUsdPerMillion: 15 },
  };

  it('prices input and output tokens per million', () => {
    // 1,000 in at $3/M + 2,000 out at $15/M = 0.003 + 0.03
    expect(llmCostUsd(table, 'openai-compatible', 'big-model', { inputTokens: 1_000, outputTokens: 2_000 })).toBe(0.033);
  });

  it('rounds to a billionth of a dollar', () => {
    expect(llmCostUsd(table, 'openai-compatible', 'gpt-4o-mini', { inputTokens: 1, outputTokens: 1 })).toBe(0.00000075);
    expect(llmCostUsd(table, 'openai-compatible', 'gpt-4o-mini', { inputTokens: 7, outputTokens: 3 })).toBe(0.000002850);
  });

  it('prefers a provider-qualified entry over the bare model name', () => {
    expect(llmCostUsd(table, 'ollama', 'gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(0);
    expect(llmCostUsd(table, 'openai-compatible', 'gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(0.75);
  });

  it('costs 0 for a model the table does not list, and with the default empty table', () => {
    expect(llmCostUsd(table, 'openai-compatible', 'unknown', { inputTokens: 500, outputTokens: 500 })).toBe(0);
    expect(llmCostUsd(EMPTY_LLM_PRICE_TABLE, 'openai-compatible', 'gpt-4o-mini', { inputTokens: 500, outputTokens: 500 })).toBe(0);
  });

  it('never finds prices on the object prototype', () => {
    expect(llmCostUsd(table, 'openai-compatible', 'constructor', { inputTokens: 1, outputTokens: 1 })).toBe(0);
    expect(llmCostUsd(table, 'openai-compatible', '__proto__', { inputTokens: 1, outputTokens: 1 })).toBe(0);
  });

  it('checks a configured table', () => {
    expect(checkLlmPriceTable(table)).toEqual([]);
    expect(checkLlmPriceTable([])).toEqual(['the price table must be an object keyed by model']);
    expect(checkLlmPriceTable({ m: { inputUsdPerMillion: -1, outputUsdPerMillion: 'x' } })).toEqual([
      'm.inputUsdPerMillion must be a non-negative number',
      'm.outputUsdPerMillion must be a non-negative number',
    ]);
  });

  it('parses a configured JSON table, and refuses an unusable one', () => {
    const parsed = parseLlmPriceTable('{"m":{"inputUsdPerMillion":1,"outputUsdPerMillion":2,"note":"x"}}');
    expect(parsed).toEqual({ m: { inputUsdPerMillion: 1, outputUsdPerMillion: 2 } });
    expect(llmCostUsd(parsed, 'ollama', 'm', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(3);
    expect(() => parseLlmPriceTable('{')).toThrow(/not JSON/);
    expect(() => parseLlmPriceTable('{"m":{"inputUsdPerMillion":1}}')).toThrow('The LLM price table is invalid: m.outputUsdPerMillion must be a non-negative number');
  });
});
