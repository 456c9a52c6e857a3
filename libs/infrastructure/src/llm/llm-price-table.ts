/**
 * Model prices, to turn a decision's token usage into a cost. Prices change and differ between
 * providers and deployments, so the table is configuration, never built in: a model that is not in
 * the table costs 0 (the default table is empty), and budgets on cost then only count priced models.
 */

/** USD per one million tokens. */
export interface LlmModelPrice {
  readonly inputUsdPerMillion: number;
  readonly outputUsdPerMillion: number;
}

/**
 * Keyed by model name (`gpt-4o-mini`), or by `provider/model` (`ollama/llama3.1`) to price the same
 * model differently per provider; the provider-qualified entry wins.
 */
export type LlmPriceTable = Readonly<Record<string, LlmModelPrice>>;

export const EMPTY_LLM_PRICE_TABLE: LlmPriceTable = Object.freeze({});

export interface LlmTokenCounts {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** The price of `model` (from `provider`), or undefined when the table does not list it. */
export function llmModelPrice(table: LlmPriceTable, provider: string, model: string): LlmModelPrice | undefined {
  // Own properties only: a model named `constructor` must not find Object.prototype's.
  const own = (key: string) => (Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined);
  return own(`${provider}/${model}`) ?? own(model);
}

/**
 * The cost in USD of one model call. Rounded to 1e-9 USD so that sums recorded in events stay
 * readable (no 0.30000000000000004) while keeping far more precision than any price has.
 */
export function llmCostUsd(table: LlmPriceTable, provider: string, model: string, usage: LlmTokenCounts): number {
  const price = llmModelPrice(table, provider, model);
  if (price === undefined) return 0;
  const cost = (usage.inputTokens * price.inputUsdPerMillion + usage.outputTokens * price.outputUsdPerMillion) / 1_000_000;
  return Math.round(cost * 1e9) / 1e9;
}

/**
 * Checks a configured table (for example parsed from an environment variable): every entry needs
 * two finite, non-negative prices. Returns the problems, empty when the table is usable.
 */
export function checkLlmPriceTable(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['the price table must be an object keyed by model'];
  const problems: string[] = [];
  for (const [model, price] of Object.entries(value)) {
    for (const field of ['inputUsdPerMillion', 'outputUsdPerMillion'] as const) {
      const amount: unknown = typeof price === 'object' && price !== null ? (price as Record<string, unknown>)[field] : undefined;
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) problems.push(`${model}.${field} must be a non-negative number`);
    }
  }
  return problems;
}

/**
 * Parses a price table from JSON configuration (`{"gpt-4o-mini":{"inputUsdPerMillion":0.15,
 * "outputUsdPerMillion":0.6}}`). Throws an Error listing every problem when it is unusable, so a
 * misconfigured deployment fails at start instead of silently costing 0.
 */
export function parseLlmPriceTable(json: string): LlmPriceTable {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error: unknown) {
    throw new Error(`The LLM price table is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const problems = checkLlmPriceTable(value);
  if (problems.length > 0) throw new Error(`The LLM price table is invalid: ${problems.join('; ')}`);
  const table: Record<string, LlmModelPrice> = Object.create(null) as Record<string, LlmModelPrice>;
  for (const [model, price] of Object.entries(value as Record<string, LlmModelPrice>)) {
    table[model] = { inputUsdPerMillion: price.inputUsdPerMillion, outputUsdPerMillion: price.outputUsdPerMillion };
  }
  return Object.freeze(table);
}
