import type { DecisionContext } from '@meridian/agents';
import type { AgentTool, LlmEngine } from '@meridian/domain';
import { startOpenAiCompatibleServer, type OpenAiCompatibleServer } from '../../../../test/support/openai-compatible-server';
import { LlmDecisionFailedError } from './llm-decision-failed.error';
import { LlmReasoningEngine, type LlmDecisionOutput, type LlmDecisionRequest, type LlmReasoningEngineOptions } from './llm-reasoning-engine';

/**
 * The LLM engine over real HTTP against the scripted OpenAI-compatible server. Every fetch made in
 * this suite is recorded: the engine must never reach any host but its base URL (LangChain can
 * otherwise download tokenizer files, which hangs on a machine without internet).
 */
describe('LlmReasoningEngine (OpenAI-compatible, over HTTP)', () => {
  let server: OpenAiCompatibleServer;
  const fetched: string[] = [];
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    server = await startOpenAiCompatibleServer();
    globalThis.fetch = (input: string | URL | Request, init?: RequestInit) => {
      fetched.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      return realFetch(input, init);
    };
  });
  afterAll(async () => {
    globalThis.fetch = realFetch;
    await server.close();
  });
  beforeEach(() => server.reset());
  afterEach(() => {
    expect(fetched.filter((url) => !url.startsWith(`${server.baseUrl}/`))).toEqual([]);
    fetched.length = 0;
  });

  const engine = (overrides: Partial<LlmEngine> = {}): LlmEngine => ({
    type: 'llm',
    provider: 'openai-compatible',
    model: 'test-model',
    baseUrl: server.baseUrl,
    temperature: 0,
    ...overrides,
  });
  // Short backoff so retry scenarios stay quick; the retry policy is the same.
  const reasoning = (options: LlmReasoningEngineOptions = {}) =>
    new LlmReasoningEngine({ env: {}, retryBaseDelayMs: 5, retryMaxDelayMs: 20, ...options });

  const input: DecisionContext = {
    input: { kind: 'event', ref: 'evt-1', payload: { orderId: 'o-1' } },
    event: { type: 'order.placed', subject: 'order-1', source: 'shop', id: 'evt-1', time: '2026-11-27T08:00:00.000Z', data: { total: 120 }, extensions: {} },
    entity: null,
    memory: { lastOrder: 'o-0' },
    agent: { id: 'agent-1', name: 'order-watcher', kind: 'monitor' },
  };
  const request = (allowedTools: readonly AgentTool[] = ['reply', 'send-message', 'emit-event'], extra: Partial<LlmDecisionRequest> = {}): LlmDecisionRequest => ({
    instructions: 'You watch orders and warn the team about large ones.',
    input,
    allowedTools,
    ...extra,
  });
  const cleanups: Array<() => void> = [];
  const afterThis = (cleanup: () => void) => cleanups.push(cleanup);
  afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));
  const failureOf = async (promise: Promise<unknown>): Promise<LlmDecisionFailedError> => {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    if (!(error instanceof LlmDecisionFailedError)) throw new Error(`expected an LlmDecisionFailedError, got ${String(error)}`);
    return error;
  };

  describe('actions', () => {
    it('turns tool calls into the actions they name, in order', async () => {
      server.enqueue({
        kind: 'tool-calls',
        calls: [
          { name: 'send-message', arguments: { to: 'agent-2', content: 'Order o-1 is large' } },
          { name: 'emit-event', arguments: { eventType: 'order.flagged', subject: 'order-1', data: { reason: 'large' } } },
        ],
      });
      const output = await reasoning().decide(engine(), request());

      expect(output.actions).toEqual([
        { action: 'send-message', to: 'agent-2', content: 'Order o-1 is large' },
        { action: 'emit-event', eventType: 'order.flagged', subject: 'order-1', data: { reason: 'large' } },
      ]);
      expect(output.messages).toEqual([
        expect.objectContaining({
          role: 'assistant',
          content: '',
          finishReason: 'tool_calls',
          toolCalls: [
            { id: 'call_1', name: 'send-message', args: { to: 'agent-2', content: 'Order o-1 is large' } },
            { id: 'call_2', name: 'emit-event', args: { eventType: 'order.flagged', subject: 'order-1', data: { reason: 'large' } } },
          ],
        }),
      ]);
      expect(output).toMatchObject({ provider: 'openai-compatible', model: 'test-model', attempts: 1 });
      expect(server.completionRequests).toHaveLength(1);
      // The fetch guard sees the client's calls (so it would see any other download too).
      expect(fetched).toEqual([`${server.baseUrl}/chat/completions`]);
    });

    it('maps every tool of the catalogue, a proposal included', async () => {
      const all: AgentTool[] = ['reply', 'send-message', 'emit-event', 'call-webhook', 'remember', 'propose'];
      server.enqueue({
        kind: 'tool-calls',
        calls: [
          { name: 'reply', arguments: { text: 'On it' } },
          { name: 'call-webhook', arguments: { url: 'https://hooks.example.com/orders', method: 'PUT', body: { id: 'o-1' } } },
          { name: 'remember', arguments: { key: 'lastOrder', value: { id: 'o-1', total: 120 } } },
          { name: 'propose', arguments: { proposed: { action: 'emit-event', eventType: 'order.refund-requested' }, reason: 'Looks like fraud' } },
        ],
      });
      const output = await reasoning().decide(engine(), request(all));

      expect(output.actions).toEqual([
        { action: 'reply', text: 'On it' },
        { action: 'call-webhook', url: 'https://hooks.example.com/orders', method: 'PUT', body: { id: 'o-1' } },
        { action: 'remember', key: 'lastOrder', value: { id: 'o-1', total: 120 } },
        { action: 'propose', proposed: { action: 'emit-event', eventType: 'order.refund-requested' }, reason: 'Looks like fraud' },
      ]);
    });

    it('turns a plain text answer into one reply', async () => {
      server.enqueue({ kind: 'text', text: 'The order looks fine.' });
      const output = await reasoning().decide(engine(), request());

      expect(output.actions).toEqual([{ action: 'reply', text: 'The order looks fine.' }]);
      expect(output.messages).toEqual([expect.objectContaining({ role: 'assistant', content: 'The order looks fine.', finishReason: 'stop' })]);
    });

    it('keeps text beside tool calls in the message only, and takes no reply from an agent that may not reply', async () => {
      server.enqueue(
        { kind: 'tool-calls', text: 'Let me tell the team.', calls: [{ name: 'send-message', arguments: { to: 'team', content: 'Large order' } }] },
        { kind: 'text', text: 'Nothing to do.' },
      );
      const commented = await reasoning().decide(engine(), request());
      expect(commented.actions).toEqual([{ action: 'send-message', to: 'team', content: 'Large order' }]);
      expect(commented.messages[0]?.content).toBe('Let me tell the team.');

      const silent = await reasoning().decide(engine(), request(['emit-event']));
      expect(silent.actions).toEqual([]);
      expect(silent.messages[0]?.content).toBe('Nothing to do.');
    });

    it('fails the whole decision on a tool call that is not an allowed, valid action, keeping the answer and its usage', async () => {
      // LangChain warns on the console when no tool call of an answer parses; that is the case scripted here.
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      afterThis(() => warn.mockRestore());
      server.enqueue(
        {
          kind: 'tool-calls',
          calls: [
            { name: 'reply', arguments: { text: 'ok' } },
            { name: 'call-webhook', arguments: { url: 'https://example.com' } },
          ],
          usage: { promptTokens: 40, completionTokens: 10 },
        },
        { kind: 'tool-calls', calls: [{ name: 'send-message', arguments: { to: 'agent-2' } }] },
        { kind: 'tool-calls', calls: [{ name: 'emit-event', arguments: '{"eventType": "order.fl' }] },
        { kind: 'tool-calls', calls: [{ name: 'delete-everything', arguments: {} }] },
      );
      const engineUnderTest = reasoning({ priceTable: { 'test-model': { inputUsdPerMillion: 1_000, outputUsdPerMillion: 1_000 } } });

      const notAllowed = await failureOf(engineUnderTest.decide(engine(), request()));
      expect(notAllowed.code).toBe('LLM_INVALID_OUTPUT');
      expect(notAllowed.failure.issues).toEqual([expect.objectContaining({ path: 'toolCalls[1].action' })]);
      expect(notAllowed.failure.output).toMatchObject({ usage: { inputTokens: 40, outputTokens: 10, totalTokens: 50, costUsd: 0.05 } });

      const missingField = await failureOf(engineUnderTest.decide(engine(), request()));
      expect(missingField.failure.issues).toEqual([{ path: 'toolCalls[0].content', message: 'is required and must be a non-empty string' }]);

      const malformed = await failureOf(engineUnderTest.decide(engine(), request()));
      expect(malformed.code).toBe('LLM_INVALID_OUTPUT');
      expect(malformed.failure.issues).toEqual([expect.objectContaining({ path: 'invalidToolCalls[0]' })]);

      const unknown = await failureOf(engineUnderTest.decide(engine(), request()));
      expect(unknown.failure.issues).toEqual([expect.objectContaining({ path: 'toolCalls[0].name' })]);
      // An invalid answer is not retried: each decision made exactly one call.
      expect(server.completionRequests).toHaveLength(4);
    });
  });

  describe('the request', () => {
    it('sends the instructions as the system message, the history, the input, and the allowed tools only', async () => {
      server.enqueue({ kind: 'text', text: 'ok' });
      await reasoning().decide(
        engine(),
        request(['send-message', 'reply'], {
          history: [
            { role: 'user', content: 'Watch order o-1' },
            { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'remember', args: { key: 'watch', value: 'o-1' } }] },
            { role: 'tool', toolCallId: 'c1', content: 'done' },
          ],
        }),
      );
      const body = server.completionRequests[0]?.body;

      expect(body?.model).toBe('test-model');
      expect(body?.temperature).toBe(0);
      expect(body?.messages?.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'user']);
      expect(body?.messages?.[0]?.content).toBe('You watch orders and warn the team about large ones.');
      expect(body?.messages?.[2]).toMatchObject({ tool_calls: [{ id: 'c1', type: 'function', function: { name: 'remember' } }] });
      expect(body?.messages?.[3]).toMatchObject({ tool_call_id: 'c1', content: 'done' });
      const last = String(body?.messages?.[4]?.content);
      expect(JSON.parse(last.slice(last.indexOf('{')))).toEqual(JSON.parse(JSON.stringify(input)));
      // Catalogue order, only what the agent holds.
      expect(body?.tools?.map((t) => t.function.name)).toEqual(['reply', 'send-message']);
      expect(body?.tools?.[1]?.function.parameters).toMatchObject({ type: 'object', required: ['to', 'content'] });
    });

    it('sends no system message without instructions and no tools for an agent without any', async () => {
      server.enqueue({ kind: 'text', text: 'ok' });
      await reasoning().decide(engine(), { input, allowedTools: [] });
      const body = server.completionRequests[0]?.body;
      expect(body?.messages?.map((m) => m.role)).toEqual(['user']);
      expect(body?.tools).toBeUndefined();
    });

    it('authenticates with the provider key from the environment, else the shared one', async () => {
      server.enqueue({ kind: 'text', text: 'a' }, { kind: 'text', text: 'b' });
      await reasoning({ env: { MERIDIAN_LLM_API_KEY: 'shared', MERIDIAN_LLM_API_KEY_OPENAI_COMPATIBLE: 'specific' }, keyedBaseUrls: [server.baseUrl] }).decide(engine(), request());
      await reasoning({ env: { MERIDIAN_LLM_API_KEY: 'shared' }, keyedBaseUrls: [server.baseUrl] }).decide(engine(), request());
      expect(server.completionRequests.map((r) => r.headers.authorization)).toEqual(['Bearer specific', 'Bearer shared']);
    });

    it('never sends the deployment key to a base URL the deployment did not allow (an agent may name any URL)', async () => {
      server.enqueue({ kind: 'text', text: 'a' }, { kind: 'text', text: 'b' });
      await reasoning({ env: { MERIDIAN_LLM_API_KEY: 'sk-deployment-secret' } }).decide(engine(), request());
      await reasoning({ env: { MERIDIAN_LLM_API_KEY: 'sk-deployment-secret' }, keyedBaseUrls: [`${server.baseUrl}/`] }).decide(engine(), request());
      const sent = server.completionRequests.map((r) => r.headers.authorization);
      expect(sent[0]).not.toContain('sk-deployment-secret');
      expect(sent[1]).toBe('Bearer sk-deployment-secret');
    });

    it('speaks the same protocol to an ollama engine (its OpenAI-compatible endpoint)', async () => {
      server.enqueue({ kind: 'tool-calls', calls: [{ name: 'reply', arguments: { text: 'hi' } }] });
      const output = await reasoning().decide(engine({ provider: 'ollama', model: 'llama3.1' }), request());
      expect(output).toMatchObject({ provider: 'ollama', model: 'llama3.1', actions: [{ action: 'reply', text: 'hi' }] });
      expect(server.completionRequests[0]?.body?.model).toBe('llama3.1');
    });

    it('refuses a provider it cannot speak to without calling anything', async () => {
      const fake = await failureOf(reasoning().decide(engine({ provider: 'fake' }), request()));
      expect(fake).toMatchObject({ code: 'LLM_PROVIDER_UNSUPPORTED', failure: { provider: 'fake', attempts: 0 } });
      expect(server.requests).toHaveLength(0);
    });
  });

  describe('streaming', () => {
    it('forwards text deltas in order and yields the same decision as without streaming', async () => {
      const scripted = { kind: 'text', text: 'Large order, team warned.', chunks: ['Large ', 'order, ', 'team ', 'warned.'], usage: { promptTokens: 30, completionTokens: 6 } } as const;
      server.enqueue(scripted, scripted);
      const deltas: string[] = [];
      const streamed = await reasoning().decide(engine(), request(), { onToken: (delta) => deltas.push(delta) });
      const whole = await reasoning().decide(engine(), request());

      expect(deltas).toEqual(['Large ', 'order, ', 'team ', 'warned.']);
      expect(server.completionRequests.map((r) => r.stream)).toEqual([true, false]);
      expect(server.completionRequests[0]?.body?.stream_options).toEqual({ include_usage: true });
      expect(comparable(streamed)).toEqual(comparable(whole));
      expect(streamed.usage).toEqual({ inputTokens: 30, outputTokens: 6, totalTokens: 36, costUsd: 0 });
    });

    it('does not retry an answer that broke off after tokens were forwarded', async () => {
      server.enqueue({ kind: 'text', text: 'one two three', dropAfterChunks: 2 }, { kind: 'text', text: 'never' });
      const deltas: string[] = [];
      const error = await failureOf(reasoning().decide(engine(), request(), { onToken: (delta) => deltas.push(delta) }));
      expect(deltas).toEqual(['one ', 'two ']);
      expect(error.failure.attempts).toBe(1);
      expect(error.code).toBe('LLM_PROVIDER_UNREACHABLE');
      expect(server.completionRequests).toHaveLength(1);
    });

    it('retries a streamed attempt that failed before any token', async () => {
      server.enqueue({ kind: 'error', status: 502 }, { kind: 'text', text: 'fine', dropAfterChunks: 0 }, { kind: 'text', text: 'all good' });
      const deltas: string[] = [];
      const output = await reasoning().decide(engine(), request(), { onToken: (delta) => deltas.push(delta) });
      expect(deltas).toEqual(['all ', 'good']);
      expect(output).toMatchObject({ attempts: 3, actions: [{ action: 'reply', text: 'all good' }] });
    });

    it('assembles streamed tool calls into the same actions', async () => {
      const scripted = {
        kind: 'tool-calls',
        calls: [
          { name: 'send-message', arguments: { to: 'agent-2', content: 'Large order' } },
          { name: 'emit-event', arguments: { eventType: 'order.flagged', data: { total: 120 } } },
        ],
      } as const;
      server.enqueue(scripted, scripted);
      const deltas: string[] = [];
      const streamed = await reasoning().decide(engine(), request(), { onToken: (delta) => deltas.push(delta) });
      const whole = await reasoning().decide(engine(), request());

      expect(deltas).toEqual([]);
      expect(streamed.actions).toEqual([
        { action: 'send-message', to: 'agent-2', content: 'Large order' },
        { action: 'emit-event', eventType: 'order.flagged', data: { total: 120 } },
      ]);
      expect(comparable(streamed)).toEqual(comparable(whole));
    });
  });

  describe('failures', () => {
    it('retries a 500 and a 429, then succeeds, counting every call', async () => {
      server.enqueue({ kind: 'error', status: 500 }, { kind: 'error', status: 429 }, { kind: 'text', text: 'ok' });
      const output = await reasoning().decide(engine(), request());
      expect(output.actions).toEqual([{ action: 'reply', text: 'ok' }]);
      expect(output.attempts).toBe(3);
      expect(server.completionRequests).toHaveLength(3);
    });

    it('gives up after maxRetries + 1 calls on a persistent error, with a typed error', async () => {
      server.enqueue(...Array.from({ length: 5 }, () => ({ kind: 'error', status: 503 }) as const));
      const error = await failureOf(reasoning({ maxRetries: 2 }).decide(engine(), request()));
      expect(error).toMatchObject({ name: 'LlmDecisionFailedError', code: 'LLM_PROVIDER_ERROR', failure: { attempts: 3, status: 503, model: 'test-model' } });
      expect(server.completionRequests).toHaveLength(3);

      server.reset();
      server.enqueue(...Array.from({ length: 3 }, () => ({ kind: 'error', status: 429 }) as const));
      const limited = await failureOf(reasoning({ maxRetries: 1 }).decide(engine(), request()));
      expect(limited).toMatchObject({ code: 'LLM_RATE_LIMITED', failure: { attempts: 2, status: 429 } });
      expect(server.completionRequests).toHaveLength(2);
    });

    it('does not retry a request the provider rejects, nor an exhausted quota', async () => {
      server.enqueue(
        { kind: 'error', status: 400, message: 'unknown parameter' },
        { kind: 'error', status: 401 },
        { kind: 'error', status: 429, code: 'insufficient_quota' },
        { kind: 'text', text: 'never' },
      );
      expect(await failureOf(reasoning().decide(engine(), request()))).toMatchObject({ code: 'LLM_REQUEST_REJECTED', failure: { attempts: 1, status: 400 } });
      expect(await failureOf(reasoning().decide(engine(), request()))).toMatchObject({ code: 'LLM_AUTHENTICATION_FAILED', failure: { attempts: 1, status: 401 } });
      expect(await failureOf(reasoning().decide(engine(), request()))).toMatchObject({ code: 'LLM_QUOTA_EXHAUSTED', failure: { attempts: 1, status: 429 } });
      expect(server.completionRequests).toHaveLength(3);
    });

    it('times out an attempt that gets no answer, retries it, then fails with LLM_TIMEOUT', async () => {
      server.enqueue({ kind: 'text', text: 'late', delayMs: 30_000 }, { kind: 'text', text: 'late', delayMs: 30_000 });
      const error = await failureOf(reasoning({ timeoutMs: 1_000, maxRetries: 1 }).decide(engine(), request()));
      expect(error).toMatchObject({ code: 'LLM_TIMEOUT', failure: { attempts: 2 } });
      expect(server.completionRequests).toHaveLength(2);
    });

    it('recovers when the retry after a timeout answers', async () => {
      server.enqueue({ kind: 'text', text: 'late', delayMs: 30_000 }, { kind: 'text', text: 'in time' });
      const output = await reasoning({ timeoutMs: 1_000 }).decide(engine(), request());
      expect(output).toMatchObject({ attempts: 2, actions: [{ action: 'reply', text: 'in time' }] });
    });

    it('stops at once, without retrying, when the caller aborts', async () => {
      server.enqueue({ kind: 'text', text: 'late', delayMs: 30_000 }, { kind: 'text', text: 'never' });
      const controller = new AbortController();
      const decision = reasoning().decide(engine(), request(), { signal: controller.signal });
      while (server.completionRequests.length === 0) await new Promise((resolve) => setImmediate(resolve));
      controller.abort();
      expect(await failureOf(decision)).toMatchObject({ code: 'LLM_ABORTED', failure: { attempts: 1 } });
      expect(server.completionRequests).toHaveLength(1);

      const already = await failureOf(reasoning().decide(engine(), request(), { signal: AbortSignal.abort() }));
      expect(already).toMatchObject({ code: 'LLM_ABORTED', failure: { attempts: 0 } });
      expect(server.completionRequests).toHaveLength(1);
    });

    it('reports an unreachable server as such after retrying', async () => {
      const gone = await startOpenAiCompatibleServer();
      const baseUrl = gone.baseUrl;
      await gone.close();
      const error = await failureOf(reasoning({ maxRetries: 1 }).decide(engine({ baseUrl }), request()));
      expect(error).toMatchObject({ code: 'LLM_PROVIDER_UNREACHABLE', failure: { attempts: 2 } });
      // This test is the one place another base URL is used on purpose.
      fetched.splice(0, fetched.length, ...fetched.filter((url) => !url.startsWith(`${baseUrl}/`)));
    });
  });

  describe('usage and cost', () => {
    it('records the reported token usage and its cost from the price table', async () => {
      server.enqueue({ kind: 'text', text: 'ok', usage: { promptTokens: 1_200, completionTokens: 300 } });
      const output = await reasoning({ priceTable: { 'test-model': { inputUsdPerMillion: 2.5, outputUsdPerMillion: 10 } } }).decide(engine(), request());
      // 1200 × 2.5 / 1M + 300 × 10 / 1M
      expect(output.usage).toEqual({ inputTokens: 1_200, outputTokens: 300, totalTokens: 1_500, costUsd: 0.006 });
      expect(output.usageReported).toBe(true);
      expect(output.latencyMs).toBeGreaterThanOrEqual(0);
    });

    it('costs 0 for a model the price table does not list', async () => {
      server.enqueue({ kind: 'text', text: 'ok', usage: { promptTokens: 1_000, completionTokens: 1_000 } });
      const output = await reasoning({ priceTable: { other: { inputUsdPerMillion: 1, outputUsdPerMillion: 1 } } }).decide(engine(), request());
      expect(output.usage.costUsd).toBe(0);
      expect(output.usage.totalTokens).toBe(2_000);
    });

    it('produces JSON that survives a round trip unchanged (it is recorded verbatim)', async () => {
      server.enqueue({ kind: 'tool-calls', calls: [{ name: 'remember', arguments: { key: 'k', value: [1, { a: null }] } }] });
      const output = await reasoning().decide(engine(), request(['remember']));
      expect(JSON.parse(JSON.stringify(output))).toEqual(output);
    });
  });
});

/** A decision without what legitimately differs between two calls (timing, completion ids). */
function comparable(output: LlmDecisionOutput) {
  return { ...output, latencyMs: 0, messages: output.messages.map(({ id: _id, ...message }) => message) };
}
