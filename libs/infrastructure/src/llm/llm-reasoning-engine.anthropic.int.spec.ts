import type { DecisionContext } from '@meridian/agents';
import type { AgentTool, LlmEngine } from '@meridian/domain';
import { startAnthropicCompatibleServer, type AnthropicCompatibleServer } from '../../../../test/support/anthropic-compatible-server';
import { LlmDecisionFailedError } from './llm-decision-failed.error';
import { LlmReasoningEngine, type LlmDecisionOutput, type LlmDecisionRequest, type LlmReasoningEngineOptions } from './llm-reasoning-engine';

/**
 * The LLM engine with `provider: 'anthropic'` over real HTTP against the scripted Messages API
 * server. Every fetch made in this suite is recorded: the engine must never reach any host but its
 * base URL (no tokenizer or token-counting download, no other endpoint).
 */
describe('LlmReasoningEngine (Anthropic Messages API, over HTTP)', () => {
  let server: AnthropicCompatibleServer;
  const fetched: string[] = [];
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    server = await startAnthropicCompatibleServer();
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
    provider: 'anthropic',
    model: 'claude-test',
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
  const failureOf = async (promise: Promise<unknown>): Promise<LlmDecisionFailedError> => {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    if (!(error instanceof LlmDecisionFailedError)) throw new Error(`expected an LlmDecisionFailedError, got ${String(error)}`);
    return error;
  };

  describe('actions', () => {
    it('turns a plain text answer into one reply, with the reported usage', async () => {
      server.enqueue({ kind: 'text', text: 'The order looks fine.', usage: { inputTokens: 1_200, outputTokens: 300 } });
      const output = await reasoning({ priceTable: { 'claude-test': { inputUsdPerMillion: 3, outputUsdPerMillion: 15 } } }).decide(engine(), request());

      expect(output.actions).toEqual([{ action: 'reply', text: 'The order looks fine.' }]);
      expect(output.messages).toEqual([expect.objectContaining({ role: 'assistant', content: 'The order looks fine.', id: 'msg_scripted_1' })]);
      expect(output).toMatchObject({ provider: 'anthropic', model: 'claude-test', attempts: 1, usageReported: true });
      // 1200 × 3 / 1M + 300 × 15 / 1M
      expect(output.usage).toEqual({ inputTokens: 1_200, outputTokens: 300, totalTokens: 1_500, costUsd: 0.0081 });
      expect(server.messageRequests).toHaveLength(1);
      // The fetch guard sees the client's calls (so it would see any other download too).
      expect(fetched).toEqual([`${server.baseUrl}/v1/messages`]);
    });

    it('turns tool_use blocks into the actions they name, in order, keeping text beside them in the message only', async () => {
      server.enqueue({
        kind: 'tool-use',
        text: 'Let me tell the team.',
        calls: [
          { name: 'send-message', input: { to: 'agent-2', content: 'Order o-1 is large' } },
          { name: 'emit-event', input: { eventType: 'order.flagged', subject: 'order-1', data: { reason: 'large' } } },
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
          content: 'Let me tell the team.',
          toolCalls: [
            { id: 'toolu_1', name: 'send-message', args: { to: 'agent-2', content: 'Order o-1 is large' } },
            { id: 'toolu_2', name: 'emit-event', args: { eventType: 'order.flagged', subject: 'order-1', data: { reason: 'large' } } },
          ],
        }),
      ]);
      // Recorded verbatim: plain JSON.
      expect(JSON.parse(JSON.stringify(output))).toEqual(output);
    });

    it('fails the whole decision on a tool call that is not an allowed, valid action, without retrying', async () => {
      server.enqueue({ kind: 'tool-use', calls: [{ name: 'call-webhook', input: { url: 'https://example.com' } }] });
      const error = await failureOf(reasoning().decide(engine(), request()));
      expect(error.code).toBe('LLM_INVALID_OUTPUT');
      expect(error.failure.issues).toEqual([expect.objectContaining({ path: 'toolCalls[0].action' })]);
      expect(server.messageRequests).toHaveLength(1);
    });
  });

  describe('the request', () => {
    it('sends the instructions as the system prompt, the history, the input, and the allowed tools only', async () => {
      server.enqueue({ kind: 'text', text: 'ok' });
      await reasoning().decide(
        engine(),
        request(['send-message', 'reply'], {
          history: [
            { role: 'user', content: 'Watch order o-1' },
            { role: 'assistant', content: '', toolCalls: [{ id: 'toolu_c1', name: 'remember', args: { key: 'watch', value: 'o-1' } }] },
            { role: 'tool', toolCallId: 'toolu_c1', content: 'done' },
          ],
        }),
      );
      const recorded = server.messageRequests[0];
      const body = recorded?.body;

      expect(recorded?.headers['anthropic-version']).toEqual(expect.any(String));
      expect(body?.model).toBe('claude-test');
      expect(body?.temperature).toBe(0);
      expect(body?.max_tokens).toEqual(expect.any(Number));
      expect(body?.stream).toBeFalsy();
      expect(JSON.stringify(body?.system)).toContain('You watch orders and warn the team about large ones.');
      // The tool result travels as a user turn, as the Messages API wants it.
      expect(body?.messages?.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'user']);
      expect(body?.messages?.[1]?.content).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'tool_use', id: 'toolu_c1', name: 'remember', input: { key: 'watch', value: 'o-1' } })]));
      expect(body?.messages?.[2]?.content).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'tool_result', tool_use_id: 'toolu_c1' })]));
      const last = JSON.stringify(body?.messages?.[3]?.content);
      expect(last).toContain('Decision input (JSON)');
      expect(last).toContain('order.placed');
      // Catalogue order, only what the agent holds.
      expect(body?.tools?.map((t) => t.name)).toEqual(['reply', 'send-message']);
      expect(body?.tools?.[1]?.input_schema).toMatchObject({ type: 'object', required: ['to', 'content'] });
    });

    it('sends no system prompt without instructions and no tools for an agent without any', async () => {
      server.enqueue({ kind: 'text', text: 'ok' });
      await reasoning().decide(engine(), { input, allowedTools: [] });
      const body = server.messageRequests[0]?.body;
      expect(body?.system).toBeUndefined();
      expect(body?.messages?.map((m) => m.role)).toEqual(['user']);
      expect(body?.tools).toBeUndefined();
    });

    it('authenticates with x-api-key from the provider key in the environment, else the shared one, and nothing else', async () => {
      server.enqueue({ kind: 'text', text: 'a' }, { kind: 'text', text: 'b' });
      await reasoning({ env: { MERIDIAN_LLM_API_KEY: 'shared', MERIDIAN_LLM_API_KEY_ANTHROPIC: 'specific' }, keyedBaseUrls: [server.baseUrl] }).decide(engine(), request());
      await reasoning({ env: { MERIDIAN_LLM_API_KEY: 'shared' }, keyedBaseUrls: [server.baseUrl] }).decide(engine(), request());
      expect(server.messageRequests.map((r) => r.headers['x-api-key'])).toEqual(['specific', 'shared']);
      expect(server.messageRequests.map((r) => r.headers.authorization)).toEqual([undefined, undefined]);
    });

    it('uses the configured default base URL when the engine gives none', async () => {
      server.enqueue({ kind: 'text', text: 'ok' });
      const output = await reasoning({ defaultBaseUrls: { anthropic: server.baseUrl } }).decide(engine({ baseUrl: undefined }), request());
      expect(output.actions).toEqual([{ action: 'reply', text: 'ok' }]);
      expect(server.messageRequests).toHaveLength(1);
    });
  });

  describe('streaming', () => {
    it('forwards text deltas in order, with the usage the server reported, and yields the same decision as without streaming', async () => {
      const scripted = {
        kind: 'text',
        text: 'Large order, team warned.',
        chunks: ['Large ', 'order, ', 'team ', 'warned.'],
        usage: { inputTokens: 30, outputTokens: 6, startOutputTokens: 1 },
      } as const;
      server.enqueue(scripted, scripted);
      const deltas: string[] = [];
      const streamed = await reasoning().decide(engine(), request(), { onToken: (delta) => deltas.push(delta) });
      const whole = await reasoning().decide(engine(), request());

      expect(deltas).toEqual(['Large ', 'order, ', 'team ', 'warned.']);
      expect(server.messageRequests.map((r) => r.stream)).toEqual([true, false]);
      expect(streamed.actions).toEqual([{ action: 'reply', text: 'Large order, team warned.' }]);
      // message_delta's output count is cumulative: the preliminary one in message_start is not added to it.
      expect(streamed.usage).toEqual({ inputTokens: 30, outputTokens: 6, totalTokens: 36, costUsd: 0 });
      expect(streamed.usageReported).toBe(true);
      expect(comparable(streamed)).toEqual(comparable(whole));
    });

    it('assembles streamed tool_use input into the same actions, forwarding only the text', async () => {
      const scripted = {
        kind: 'tool-use',
        text: 'Flagging it.',
        calls: [
          { name: 'send-message', input: { to: 'agent-2', content: 'Large order' } },
          { name: 'emit-event', input: { eventType: 'order.flagged', data: { total: 120 } } },
        ],
      } as const;
      server.enqueue(scripted, scripted);
      const deltas: string[] = [];
      const streamed = await reasoning().decide(engine(), request(), { onToken: (delta) => deltas.push(delta) });
      const whole = await reasoning().decide(engine(), request());

      expect(deltas).toEqual(['Flagging ', 'it.']);
      expect(streamed.actions).toEqual([
        { action: 'send-message', to: 'agent-2', content: 'Large order' },
        { action: 'emit-event', eventType: 'order.flagged', data: { total: 120 } },
      ]);
      expect(comparable(streamed)).toEqual(comparable(whole));
    });

    it('does not retry an answer that broke off after tokens were forwarded', async () => {
      server.enqueue({ kind: 'text', text: 'one two three', dropAfterChunks: 2 }, { kind: 'text', text: 'never' });
      const deltas: string[] = [];
      const error = await failureOf(reasoning().decide(engine(), request(), { onToken: (delta) => deltas.push(delta) }));
      expect(deltas).toEqual(['one ', 'two ']);
      expect(error.failure.attempts).toBe(1);
      expect(server.messageRequests).toHaveLength(1);
    });
  });

  describe('failures', () => {
    it('retries a 429 and then succeeds, counting every call', async () => {
      server.enqueue({ kind: 'error', status: 429 }, { kind: 'text', text: 'ok' });
      const output = await reasoning().decide(engine(), request());
      expect(output).toMatchObject({ attempts: 2, actions: [{ action: 'reply', text: 'ok' }] });
      expect(server.messageRequests).toHaveLength(2);
    });

    it('retries an overloaded (529) and a failed (500) server, streamed too', async () => {
      server.enqueue({ kind: 'error', status: 529 }, { kind: 'error', status: 500 }, { kind: 'text', text: 'all good' });
      const deltas: string[] = [];
      const output = await reasoning().decide(engine(), request(), { onToken: (delta) => deltas.push(delta) });
      expect(output).toMatchObject({ attempts: 3, actions: [{ action: 'reply', text: 'all good' }] });
      expect(deltas).toEqual(['all ', 'good']);
      expect(server.messageRequests).toHaveLength(3);
    });

    it('gives up after maxRetries + 1 calls on a persistent rate limit, with a typed error', async () => {
      server.enqueue(...Array.from({ length: 3 }, () => ({ kind: 'error', status: 429 }) as const));
      const error = await failureOf(reasoning({ maxRetries: 1 }).decide(engine(), request()));
      expect(error).toMatchObject({ name: 'LlmDecisionFailedError', code: 'LLM_RATE_LIMITED', failure: { provider: 'anthropic', attempts: 2, status: 429 } });
      expect(server.messageRequests).toHaveLength(2);
    });

    it('does not retry a request the provider rejects (400) nor refused credentials (401)', async () => {
      server.enqueue({ kind: 'error', status: 400, message: 'max_tokens: field required' }, { kind: 'error', status: 401 }, { kind: 'text', text: 'never' });
      const rejected = await failureOf(reasoning().decide(engine(), request()));
      expect(rejected).toBeInstanceOf(LlmDecisionFailedError);
      expect(rejected).toMatchObject({ code: 'LLM_REQUEST_REJECTED', failure: { provider: 'anthropic', model: 'claude-test', attempts: 1, status: 400 } });
      expect(rejected.message).toContain('max_tokens: field required');
      expect(await failureOf(reasoning().decide(engine(), request()))).toMatchObject({ code: 'LLM_AUTHENTICATION_FAILED', failure: { attempts: 1, status: 401 } });
      expect(server.messageRequests).toHaveLength(2);
      expect(server.pending()).toBe(1);
    });

    it('times out an attempt that gets no answer and recovers on the retry', async () => {
      server.enqueue({ kind: 'text', text: 'late', delayMs: 30_000 }, { kind: 'text', text: 'in time' });
      const output = await reasoning({ timeoutMs: 1_000 }).decide(engine(), request());
      expect(output).toMatchObject({ attempts: 2, actions: [{ action: 'reply', text: 'in time' }] });
    });

    it('reports an unreachable server as such after retrying', async () => {
      const gone = await startAnthropicCompatibleServer();
      const baseUrl = gone.baseUrl;
      await gone.close();
      const error = await failureOf(reasoning({ maxRetries: 1 }).decide(engine({ baseUrl }), request()));
      expect(error).toMatchObject({ code: 'LLM_PROVIDER_UNREACHABLE', failure: { attempts: 2 } });
      // This test is the one place another base URL is used on purpose.
      fetched.splice(0, fetched.length, ...fetched.filter((url) => !url.startsWith(`${baseUrl}/`)));
    });
  });
});

/** A decision without what legitimately differs between two calls (timing, message ids). */
function comparable(output: LlmDecisionOutput) {
  return { ...output, latencyMs: 0, messages: output.messages.map(({ id: _id, ...message }) => message) };
}
