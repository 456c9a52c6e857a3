import type { BaseLanguageModelInput } from '@langchain/core/language_models/base';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { Runnable } from '@langchain/core/runnables';
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import { AIMessageChunk, type BaseMessage } from '@langchain/core/messages';
import type { ChatGenerationChunk } from '@langchain/core/outputs';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatOpenAICompletions } from '@langchain/openai';
import type { DecisionContext } from '@meridian/agents';
import { assertNever, type AgentAction, type AgentTool, type DecisionUsage, type LlmEngine, type LlmProvider, type ValidationIssue } from '@meridian/domain';
import { actionTools, toolCallToAction } from './llm-action-tools';
import { LlmDecisionFailedError, type LlmDecisionErrorCode } from './llm-decision-failed.error';
import { fromLangChainAnswer, toLangChainMessage, type LlmAssistantMessage, type LlmMessage } from './llm-messages';
import { EMPTY_LLM_PRICE_TABLE, llmCostUsd, type LlmPriceTable } from './llm-price-table';

/**
 * The LLM reasoning engine: one decision = one model call with the agent's allowed actions bound
 * as tools. The tool calls in the answer ARE the decided actions.
 *
 * Why not `createAgent` (langchain): an agent is a loop that executes tools and calls the model
 * again with their results. Meridian's actions are side effects that must run at most once, from
 * the recorded decision, after it is recorded (and never again on replay). Executing them inside
 * the loop would run them before anything is recorded and make one decision cost an unknown number
 * of model calls. With no tool to execute, `createAgent` would reduce to a single model call plus a
 * graph runtime around it, so the engine makes that call itself with `bindTools`.
 *
 * Network: the only host contacted is the engine's base URL. `ChatOpenAI` is never constructed with
 * `streaming: true` (its `invoke` then estimates token counts with a tokenizer it downloads);
 * streaming goes through `.stream()`, whose usage comes from the server (`stream_options`).
 * `ChatOpenAICompletions` is used instead of `ChatOpenAI` because the latter switches some model
 * names (`codex`, `*-pro`) to the Responses API, which OpenAI-compatible servers do not offer.
 *
 * Retries are the engine's own, not LangChain's (`maxRetries: 0` on the model): LangChain 1.x does
 * not retry a 429 without a Retry-After header, and its backoff is not configurable; a decision
 * also needs to know how many calls it made. Retried: 429, 408, 5xx, unreachable server, the
 * per-attempt timeout. A streamed attempt that already forwarded tokens is not retried (the tokens
 * cannot be taken back from whoever is watching).
 */

/** What one decision sees. */
export interface LlmDecisionRequest {
  /** The agent's instructions: sent as the system message. */
  readonly instructions?: string;
  /** What is being decided about, as JSON data (normally the `DecisionContext` the rules engine sees too). */
  readonly input: DecisionContext | Readonly<Record<string, unknown>>;
  /** Earlier turns (a conversation), oldest first; sent before the input. */
  readonly history?: readonly LlmMessage[];
  /** The agent's tools: the only actions offered to (and accepted from) the model. */
  readonly allowedTools: readonly AgentTool[];
}

export interface LlmDecideOptions {
  /** Aborts the decision (any attempt in flight, and the wait between attempts). */
  readonly signal?: AbortSignal;
  /** When given, the answer is streamed and each text delta is forwarded, in order. */
  readonly onToken?: (delta: string) => void;
}

/** The decision as recorded: plain JSON, complete enough that a replay never calls the model. */
export interface LlmDecisionOutput {
  readonly provider: LlmProvider;
  readonly model: string;
  /** The model's answer, verbatim (text, tool calls with their arguments, finish reason). */
  readonly messages: readonly LlmAssistantMessage[];
  /** The actions decided, in tool-call order; a plain text answer (no tool call) is one `reply`. */
  readonly actions: readonly AgentAction[];
  readonly usage: DecisionUsage;
  /** False when the server reported no token usage (the usage is then 0, and so is the cost). */
  readonly usageReported: boolean;
  /** Model calls made, including retried ones. */
  readonly attempts: number;
  /** Wall time of the whole decision, retries and backoff included. */
  readonly latencyMs: number;
}

/** Builds the chat model for an engine; used for the `fake` provider in tests (e.g. langchain's `fakeModel()`). */
export type LlmChatModelFactory = (engine: LlmEngine) => BaseChatModel;

export interface LlmReasoningEngineOptions {
  /** Defaults to an empty table: every model costs 0. */
  readonly priceTable?: LlmPriceTable;
  /**
   * Where API keys are read: `MERIDIAN_LLM_API_KEY_<PROVIDER>` (e.g. `MERIDIAN_LLM_API_KEY_OLLAMA`,
   * `MERIDIAN_LLM_API_KEY_OPENAI_COMPATIBLE`), else `MERIDIAN_LLM_API_KEY`. Defaults to process.env.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Base URLs for engines that do not give one. */
  readonly defaultBaseUrls?: Partial<Record<LlmProvider, string>>;
  /**
   * Base URLs the deployment's API keys may be sent to, besides the providers' defaults and
   * `defaultBaseUrls`. Any agent definition may name a `baseUrl`: a key configured for a provider
   * must not reach a server the deployment did not choose, so calls to other URLs carry no key.
   */
  readonly keyedBaseUrls?: readonly string[];
  /** Retries after the first attempt (default 2: at most 3 model calls per decision). */
  readonly maxRetries?: number;
  /** Backoff before retry n is about `retryBaseDelayMs * 2^(n-1)`, jittered, capped by `retryMaxDelayMs`. */
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  /** Per attempt, streaming included (default 60 s). */
  readonly timeoutMs?: number;
  /** The chat model for `provider: 'fake'`; without it that provider is unsupported. */
  readonly fakeModel?: LlmChatModelFactory;
}

export const DEFAULT_LLM_BASE_URLS: Readonly<Partial<Record<LlmProvider, string>>> = {
  'openai-compatible': 'https://api.openai.com/v1',
  // Ollama serves the OpenAI chat completions API (tools and streaming included) under /v1.
  ollama: 'http://127.0.0.1:11434/v1',
  // The Messages API client adds /v1/messages itself.
  anthropic: 'https://api.anthropic.com',
};

const DEFAULTS = { maxRetries: 2, retryBaseDelayMs: 500, retryMaxDelayMs: 8_000, timeoutMs: 60_000 } as const;

/** Sent when no key is configured: keyless local servers accept anything, hosted ones answer 401. */
const NO_API_KEY = 'not-configured';

interface Failure {
  readonly code: LlmDecisionErrorCode;
  readonly retryable: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly message: string;
}

export class LlmReasoningEngine {
  private readonly priceTable: LlmPriceTable;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: LlmReasoningEngineOptions = {}) {
    this.priceTable = options.priceTable ?? EMPTY_LLM_PRICE_TABLE;
    this.maxRetries = Math.max(0, Math.floor(options.maxRetries ?? DEFAULTS.maxRetries));
    this.retryBaseDelayMs = Math.max(0, options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs);
    this.retryMaxDelayMs = Math.max(0, options.retryMaxDelayMs ?? DEFAULTS.retryMaxDelayMs);
    this.timeoutMs = Math.max(1, options.timeoutMs ?? DEFAULTS.timeoutMs);
  }

  /**
   * Decides once. Resolves with the output to record, or rejects with `LlmDecisionFailedError`
   * (see its codes); never with anything else.
   */
  async decide(engine: LlmEngine, request: LlmDecisionRequest, options: LlmDecideOptions = {}): Promise<LlmDecisionOutput> {
    const started = performance.now();
    const failure = (code: LlmDecisionErrorCode, message: string, attempts: number, extra: { status?: number; cause?: unknown } = {}) =>
      new LlmDecisionFailedError(code, message, {
        provider: engine.provider,
        model: engine.model,
        attempts,
        ...(extra.status !== undefined && { status: extra.status }),
      }, { cause: extra.cause });

    const tools = actionTools(request.allowedTools);
    let runnable: Runnable<BaseLanguageModelInput, AIMessageChunk>;
    try {
      const model = this.chatModel(engine);
      if (tools.length > 0 && typeof model.bindTools !== 'function') {
        throw failure('LLM_PROVIDER_UNSUPPORTED', `The ${engine.provider} chat model cannot call tools`, 0);
      }
      runnable = tools.length > 0 && model.bindTools !== undefined ? model.bindTools(tools) : model;
    } catch (error: unknown) {
      if (error instanceof LlmDecisionFailedError) throw error;
      throw failure('LLM_ENGINE_ERROR', `The ${engine.provider} chat model could not be created: ${messageOf(error)}`, 0, { cause: error });
    }
    const prompt = buildPrompt(request);

    for (let attempt = 1; ; attempt += 1) {
      if (options.signal?.aborted) throw failure('LLM_ABORTED', 'The decision was aborted', attempt - 1, { cause: options.signal.reason });
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      const signal = options.signal === undefined ? timeout.signal : AbortSignal.any([options.signal, timeout.signal]);
      let forwarded = false;
      let answer: AIMessageChunk;
      try {
        answer =
          options.onToken === undefined
            ? await runnable.invoke(prompt, { signal })
            : await streamAnswer(runnable, prompt, signal, (delta) => {
                forwarded = true;
                options.onToken?.(delta);
              });
      } catch (error: unknown) {
        clearTimeout(timer);
        const classified = classify(error, options.signal, timeout.signal, this.timeoutMs);
        if (!classified.retryable || attempt > this.maxRetries || forwarded) {
          throw failure(classified.code, classified.message, attempt, { status: classified.status, cause: error });
        }
        await this.backoff(attempt, classified.retryAfterMs, options.signal).catch((reason: unknown) => {
          throw failure('LLM_ABORTED', 'The decision was aborted', attempt, { cause: reason });
        });
        continue;
      } finally {
        clearTimeout(timer);
      }
      return this.output(engine, request, answer, attempt, started);
    }
  }

  private output(engine: LlmEngine, request: LlmDecisionRequest, answer: AIMessageChunk, attempts: number, started: number): LlmDecisionOutput {
    const message = fromLangChainAnswer(answer);
    const reported = answer.usage_metadata;
    const inputTokens = reported?.input_tokens ?? 0;
    const outputTokens = reported?.output_tokens ?? 0;
    const usage: DecisionUsage = {
      inputTokens,
      outputTokens,
      totalTokens: reported?.total_tokens ?? inputTokens + outputTokens,
      costUsd: llmCostUsd(this.priceTable, engine.provider, engine.model, { inputTokens, outputTokens }),
    };
    const { actions, issues } = actionsOf(message, request.allowedTools);
    const output: LlmDecisionOutput = {
      provider: engine.provider,
      model: engine.model,
      messages: [message],
      actions,
      usage,
      usageReported: reported !== undefined,
      attempts,
      latencyMs: Math.round(performance.now() - started),
    };
    if (issues.length > 0) {
      const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
      throw new LlmDecisionFailedError<LlmDecisionOutput>('LLM_INVALID_OUTPUT', `The model's answer is not a valid decision: ${summary}`, {
        provider: engine.provider,
        model: engine.model,
        attempts,
        output,
        issues,
      });
    }
    return output;
  }

  private chatModel(engine: LlmEngine): BaseChatModel {
    switch (engine.provider) {
      case 'openai-compatible':
      case 'ollama':
        return new ChatOpenAICompletions({
          model: engine.model,
          ...(engine.temperature !== undefined && { temperature: engine.temperature }),
          apiKey: this.apiKey(engine),
          maxRetries: 0,
          streamUsage: true,
          configuration: { baseURL: this.baseUrl(engine) },
        });
      case 'fake':
        if (this.options.fakeModel !== undefined) return this.options.fakeModel(engine);
        throw this.unsupported(engine, 'no fake chat model is configured');
      case 'anthropic':
        // Invoked without `streaming` and streamed through `.stream()`, with usage from the
        // server's message_start/message_delta events; ChatAnthropic counts no tokens locally.
        return new StreamUsageChatAnthropic({
          model: engine.model,
          ...(engine.temperature !== undefined && { temperature: engine.temperature }),
          apiKey: this.apiKey(engine),
          anthropicApiUrl: this.baseUrl(engine),
          maxRetries: 0,
          streamUsage: true,
          // The key comes from Meridian's lookup alone: the SDK would otherwise also send
          // ANTHROPIC_AUTH_TOKEN from the environment as a bearer token.
          clientOptions: { authToken: null },
        });
      default:
        return assertNever(engine.provider);
    }
  }

  private unsupported(engine: LlmEngine, why: string): LlmDecisionFailedError {
    return new LlmDecisionFailedError('LLM_PROVIDER_UNSUPPORTED', `Provider "${engine.provider}" cannot be used: ${why}`, {
      provider: engine.provider,
      model: engine.model,
      attempts: 0,
    });
  }

  private baseUrl(engine: LlmEngine): string {
    const url = engine.baseUrl ?? this.options.defaultBaseUrls?.[engine.provider] ?? DEFAULT_LLM_BASE_URLS[engine.provider];
    if (url === undefined) throw this.unsupported(engine, 'no base URL is configured');
    return url;
  }

  private apiKey(engine: LlmEngine): string {
    if (!this.keyed(this.baseUrl(engine))) return NO_API_KEY;
    const env = this.options.env ?? process.env;
    const specific = `MERIDIAN_LLM_API_KEY_${engine.provider.toUpperCase().replace(/-/g, '_')}`;
    return nonBlank(env[specific]) ?? nonBlank(env.MERIDIAN_LLM_API_KEY) ?? NO_API_KEY;
  }

  private keyed(url: string): boolean {
    const allowed = [...Object.values(DEFAULT_LLM_BASE_URLS), ...Object.values(this.options.defaultBaseUrls ?? {}), ...(this.options.keyedBaseUrls ?? [])];
    return allowed.some((candidate) => candidate !== undefined && normalizeUrl(candidate) === normalizeUrl(url));
  }

  private backoff(attempt: number, retryAfterMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    const exponential = Math.min(this.retryMaxDelayMs, this.retryBaseDelayMs * 2 ** (attempt - 1));
    // Half fixed, half random: replicas that failed together do not retry together.
    const jittered = exponential / 2 + (Math.random() * exponential) / 2;
    const delay = Math.min(this.retryMaxDelayMs, Math.max(jittered, retryAfterMs ?? 0));
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, delay);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * ChatAnthropic whose streamed usage adds up right. A Messages API stream reports usage twice:
 * message_start carries the input tokens and a preliminary output count (often 1), message_delta
 * the final, cumulative output count. ChatAnthropic turns both into usage chunks that are summed
 * when the chunks are concatenated, so a streamed decision would record one or more output tokens
 * too many, and cost more than the same answer not streamed. The preliminary count is dropped.
 */
class StreamUsageChatAnthropic extends ChatAnthropic {
  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    let started = false;
    for await (const chunk of super._streamResponseChunks(messages, options, runManager)) {
      const usage = chunk.message instanceof AIMessageChunk ? chunk.message.usage_metadata : undefined;
      // message_start is the first event of every stream, so the first usage seen is its own.
      if (!started && usage !== undefined && chunk.message instanceof AIMessageChunk) {
        started = true;
        chunk.message.usage_metadata = { ...usage, output_tokens: 0, total_tokens: usage.input_tokens };
      }
      yield chunk;
    }
  }
}

const normalizeUrl = (url: string) => url.trim().replace(/\/+$/, '').toLowerCase();

const nonBlank = (value: string | undefined) => (value !== undefined && value.trim() !== '' ? value : undefined);

/** The system message (instructions), the history, then the input as JSON. */
function buildPrompt(request: LlmDecisionRequest): BaseMessage[] {
  const messages: LlmMessage[] = [];
  if (request.instructions !== undefined && request.instructions.trim() !== '') messages.push({ role: 'system', content: request.instructions });
  messages.push(...(request.history ?? []));
  messages.push({ role: 'user', content: `Decision input (JSON):\n${JSON.stringify(request.input, null, 2)}` });
  return messages.map(toLangChainMessage);
}

async function streamAnswer(
  runnable: Runnable<BaseLanguageModelInput, AIMessageChunk>,
  prompt: BaseMessage[],
  signal: AbortSignal,
  onToken: (delta: string) => void,
): Promise<AIMessageChunk> {
  let answer: AIMessageChunk | undefined;
  for await (const chunk of await runnable.stream(prompt, { signal })) {
    const delta = chunk.text;
    if (delta !== '') onToken(delta);
    answer = answer === undefined ? chunk : answer.concat(chunk);
  }
  if (answer === undefined) throw new Error('the model streamed no answer');
  return answer;
}

/**
 * Tool calls become actions in order. Text is a `reply` only when the answer has no tool call (text
 * beside tool calls is the model commenting on them) and the agent may reply; otherwise it stays in
 * the recorded message only. Any invalid tool call invalidates the whole decision, as a failing rule
 * template does: a partial set of actions is never run.
 */
function actionsOf(message: LlmAssistantMessage, allowed: readonly AgentTool[]): { actions: AgentAction[]; issues: ValidationIssue[] } {
  const actions: AgentAction[] = [];
  const issues: ValidationIssue[] = [];
  (message.invalidToolCalls ?? []).forEach((call, index) =>
    issues.push({ path: `invalidToolCalls[${index}]`, message: `${call.name ?? 'a tool call'} has arguments that are not JSON${call.error ? ` (${call.error})` : ''}` }),
  );
  const calls = message.toolCalls ?? [];
  calls.forEach((call, index) => {
    const mapped = toolCallToAction(call, allowed, `toolCalls[${index}]`);
    if (mapped.ok) actions.push(mapped.action);
    else issues.push(...mapped.issues);
  });
  if (calls.length === 0 && (message.invalidToolCalls ?? []).length === 0 && message.content.trim() !== '' && allowed.includes('reply')) {
    actions.push({ action: 'reply', text: message.content });
  }
  return { actions, issues };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function numberField(value: unknown, key: string): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field: unknown = (value as Record<string, unknown>)[key];
  return typeof field === 'number' ? field : undefined;
}

function retryAfterMs(error: unknown): number | undefined {
  const headers: unknown = typeof error === 'object' && error !== null ? (error as Record<string, unknown>).headers : undefined;
  const value = headers instanceof Headers ? headers.get('retry-after') : undefined;
  if (value === undefined || value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const CONNECTION_ERROR_NAMES = new Set(['APIConnectionError', 'SocketError']);
const CONNECTION_ERROR_CODES = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|UND_ERR_\w+)$/;
const CONNECTION_ERROR_MESSAGES = /fetch failed|terminated|other side closed|socket hang up/i;

/**
 * A failure of the connection rather than of the server's answer: refused, reset, or cut off
 * mid-stream. Client libraries wrap these differently (undici's `TypeError: terminated` caused by a
 * `SocketError`, the OpenAI SDK's `APIConnectionError`, LangChain re-wrapping either), so the
 * whole cause chain is looked at.
 */
function isConnectionFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth += 1) {
    const record = current as Record<string, unknown>;
    if (CONNECTION_ERROR_NAMES.has(current.constructor.name) || CONNECTION_ERROR_NAMES.has(String(record.name))) return true;
    if (typeof record.code === 'string' && CONNECTION_ERROR_CODES.test(record.code)) return true;
    if (typeof record.message === 'string' && CONNECTION_ERROR_MESSAGES.test(record.message)) return true;
    current = record.cause;
  }
  return false;
}

function classify(error: unknown, callerSignal: AbortSignal | undefined, timeoutSignal: AbortSignal, timeoutMs: number): Failure {
  // Which signal fired decides, whatever shape the client library gave the abort error.
  if (callerSignal?.aborted) return { code: 'LLM_ABORTED', retryable: false, message: 'The decision was aborted' };
  if (timeoutSignal.aborted) return { code: 'LLM_TIMEOUT', retryable: true, message: `The model did not answer within ${timeoutMs} ms` };
  const status = numberField(error, 'status');
  const detail = messageOf(error);
  if (status === undefined) {
    if (isConnectionFailure(error)) {
      return { code: 'LLM_PROVIDER_UNREACHABLE', retryable: true, message: `The model server could not be reached: ${detail}` };
    }
    return { code: 'LLM_ENGINE_ERROR', retryable: false, message: `The model call failed: ${detail}` };
  }
  const code: unknown = typeof error === 'object' && error !== null ? (error as Record<string, unknown>).code : undefined;
  if (status === 429 && code === 'insufficient_quota') return { code: 'LLM_QUOTA_EXHAUSTED', retryable: false, status, message: `The model provider's quota is exhausted: ${detail}` };
  if (status === 429) return { code: 'LLM_RATE_LIMITED', retryable: true, status, retryAfterMs: retryAfterMs(error), message: `The model provider is rate limiting: ${detail}` };
  if (status === 408 || status >= 500) return { code: 'LLM_PROVIDER_ERROR', retryable: true, status, retryAfterMs: retryAfterMs(error), message: `The model server failed (${status}): ${detail}` };
  if (status === 401 || status === 403) return { code: 'LLM_AUTHENTICATION_FAILED', retryable: false, status, message: `The model provider refused the credentials (${status}): ${detail}` };
  return { code: 'LLM_REQUEST_REJECTED', retryable: false, status, message: `The model provider rejected the request (${status}): ${detail}` };
}
