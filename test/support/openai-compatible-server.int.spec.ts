import { startOpenAiCompatibleServer, type OpenAiCompatibleServer } from './openai-compatible-server';

/** Reads a server-sent event stream into its `data:` payloads. */
async function sseData(response: Response): Promise<string[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

interface Chunk {
  choices: Array<{ delta: { content?: string; tool_calls?: Array<{ index: number; id?: string; function: { name?: string; arguments?: string } }> }; finish_reason: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

describe('scripted OpenAI-compatible server', () => {
  let server: OpenAiCompatibleServer;
  const post = (body: unknown, signal?: AbortSignal) =>
    fetch(`${server.baseUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

  beforeAll(async () => {
    server = await startOpenAiCompatibleServer();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  it('listens on 127.0.0.1 with an OpenAI-style base URL', () => {
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it('answers scripted responses in order and records each request', async () => {
    server.enqueue({ kind: 'text', text: 'first', usage: { promptTokens: 5, completionTokens: 1 } }, { kind: 'text', text: 'second' });
    const first = (await (await post({ model: 'm', messages: [{ role: 'user', content: 'a' }] })).json()) as Record<string, unknown>;
    const second = (await (await post({ model: 'm', messages: [{ role: 'user', content: 'b' }] })).json()) as Record<string, unknown>;

    expect(first).toMatchObject({
      object: 'chat.completion',
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'first' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
    });
    expect(second).toMatchObject({ choices: [{ message: { content: 'second' } }] });
    expect(server.completionRequests.map((r) => r.body?.messages?.[0]?.content)).toEqual(['a', 'b']);
    expect(server.pending()).toBe(0);
  });

  it('answers tool calls with JSON arguments and finish_reason tool_calls', async () => {
    server.enqueue({ kind: 'tool-calls', calls: [{ name: 'remember', arguments: { key: 'k', value: 1 } }] });
    const body = (await (await post({ model: 'm', messages: [] })).json()) as {
      choices: Array<{ message: { content: unknown; tool_calls: Array<{ id: string; type: string; function: { name: string; arguments: string } }> }; finish_reason: string }>;
    };
    const choice = body.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'remember', arguments: '{"key":"k","value":1}' } }]);
  });

  it('streams text as SSE chunks ending with [DONE], with usage when asked for', async () => {
    server.enqueue({ kind: 'text', text: 'Hello there world', usage: { promptTokens: 3, completionTokens: 4 } });
    const response = await post({ model: 'm', messages: [], stream: true, stream_options: { include_usage: true } });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const data = await sseData(response);

    expect(data[data.length - 1]).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('Hello there world');
    expect(chunks.filter((c) => (c.choices[0]?.delta.content ?? '') !== '').length).toBe(3);
    expect(chunks.map((c) => c.choices[0]?.finish_reason).filter((f) => f)).toEqual(['stop']);
    expect(chunks[chunks.length - 1]).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
    expect(server.completionRequests[0]?.stream).toBe(true);
  });

  it('can drop a streamed answer mid-way', async () => {
    server.enqueue({ kind: 'text', text: 'a b c', dropAfterChunks: 2 });
    const response = await post({ model: 'm', messages: [], stream: true });
    await expect(response.text()).rejects.toThrow();
  });

  it('streams tool calls whose argument fragments join into the JSON arguments', async () => {
    server.enqueue({ kind: 'tool-calls', calls: [{ name: 'send-message', arguments: { to: 'a', content: 'hi' }, id: 'c9' }] });
    const data = await sseData(await post({ model: 'm', messages: [], stream: true }));
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, id: 'c9', function: { name: 'send-message' } });
    expect(calls.map((c) => c.function.arguments ?? '').join('')).toBe('{"to":"a","content":"hi"}');
    expect(chunks.map((c) => c.choices[0]?.finish_reason).filter((f) => f)).toEqual(['tool_calls']);
    // Without stream_options.include_usage there is no usage chunk.
    expect(chunks.some((c) => c.usage !== undefined)).toBe(false);
  });

  it('answers scripted HTTP errors with their status, headers and an OpenAI error body', async () => {
    server.enqueue({ kind: 'error', status: 429, headers: { 'retry-after': '0' } }, { kind: 'error', status: 500, message: 'boom', code: 'overloaded' });
    const limited = await post({ model: 'm', messages: [] });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('0');
    const failed = await post({ model: 'm', messages: [] });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({ error: { message: 'boom', code: 'overloaded' } });
  });

  it('answers 500 when no response is scripted, and 404 off the chat completions route', async () => {
    const unscripted = await post({ model: 'm', messages: [] });
    expect(unscripted.status).toBe(500);
    expect(await unscripted.json()).toMatchObject({ error: { message: 'no scripted response' } });
    expect((await fetch(`${server.baseUrl}/models`)).status).toBe(404);
    expect(server.requests).toHaveLength(2);
    expect(server.completionRequests).toHaveLength(1);
  });

  it('holds a delayed answer back, lets the client give up on it, and keeps serving', async () => {
    server.enqueue({ kind: 'text', text: 'late', delayMs: 60_000 }, { kind: 'text', text: 'next' });
    const controller = new AbortController();
    const abandoned = post({ model: 'm', messages: [] }, controller.signal).catch((error: unknown) => error);
    while (server.completionRequests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    expect(await abandoned).toMatchObject({ name: 'AbortError' });

    const next = (await (await post({ model: 'm', messages: [] })).json()) as { choices: Array<{ message: { content: string } }> };
    expect(next.choices[0]?.message.content).toBe('next');
  });
});
