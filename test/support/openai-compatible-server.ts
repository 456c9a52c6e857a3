/**
 * A scripted OpenAI-compatible chat server for tests: real HTTP on 127.0.0.1 (node:http), speaking
 * `POST /v1/chat/completions` both as one JSON answer and as server-sent events (`stream: true`).
 *
 * Each test queues the answers it wants, in order; every request takes the next one. An empty
 * queue answers 500 with `no scripted response`, so a test that makes more model calls than it
 * expected fails loudly instead of hanging. Every request is recorded (parsed body and headers),
 * so tests can count model calls and inspect the messages and tools that were sent.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson, startLoopbackHttpServer } from './loopback-http-server';

export interface ScriptedUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface ScriptedToolCall {
  readonly name: string;
  /** An object is sent as its JSON; a string is sent as is (to script malformed arguments). */
  readonly arguments: unknown;
  readonly id?: string;
}

interface ScriptedBase {
  /** Wait this long before answering (before the headers, so the client sees nothing until then). */
  readonly delayMs?: number;
  readonly usage?: ScriptedUsage;
}

/** A plain assistant message. `chunks` sets how a streamed answer is split (default: by word). */
export interface ScriptedText extends ScriptedBase {
  readonly kind: 'text';
  readonly text: string;
  readonly chunks?: readonly string[];
  /** Streaming only: drop the connection after this many text chunks (a server dying mid-answer). */
  readonly dropAfterChunks?: number;
}

/** An assistant message calling tools (`finish_reason: 'tool_calls'`), with optional text. */
export interface ScriptedToolCalls extends ScriptedBase {
  readonly kind: 'tool-calls';
  readonly calls: readonly ScriptedToolCall[];
  readonly text?: string;
}

/** An HTTP error answer in the OpenAI error shape. */
export interface ScriptedError {
  readonly kind: 'error';
  readonly status: number;
  readonly message?: string;
  /** The OpenAI error code, e.g. `insufficient_quota`. */
  readonly code?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly delayMs?: number;
}

export type ScriptedResponse = ScriptedText | ScriptedToolCalls | ScriptedError;

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when the body was not JSON). */
  readonly body: ChatCompletionRequestBody | undefined;
  readonly stream: boolean;
}

/** The parts of a chat completion request tests look at; everything else stays in the object. */
export interface ChatCompletionRequestBody {
  readonly model?: string;
  readonly messages?: ReadonlyArray<{ readonly role: string; readonly content?: unknown; readonly [key: string]: unknown }>;
  readonly tools?: ReadonlyArray<{ readonly type: string; readonly function: { readonly name: string; readonly description?: string; readonly parameters?: unknown } }>;
  readonly stream?: boolean;
  readonly stream_options?: { readonly include_usage?: boolean };
  readonly temperature?: number;
  readonly [key: string]: unknown;
}

export interface OpenAiCompatibleServer {
  /** `http://127.0.0.1:<port>/v1`, what OpenAI clients take as their base URL. */
  readonly baseUrl: string;
  readonly requests: readonly RecordedRequest[];
  /** Chat completion requests only. */
  readonly completionRequests: readonly RecordedRequest[];
  enqueue(...responses: ScriptedResponse[]): void;
  /** Scripted responses not consumed yet. */
  pending(): number;
  /** Forgets recorded requests and queued responses. */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_SCRIPTED_USAGE: ScriptedUsage = { promptTokens: 11, completionTokens: 7 };

export async function startOpenAiCompatibleServer(): Promise<OpenAiCompatibleServer> {
  const queue: ScriptedResponse[] = [];
  const requests: RecordedRequest[] = [];
  let sequence = 0;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readBody(request);
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    let body: ChatCompletionRequestBody | undefined;
    try {
      body = raw.length > 0 ? (JSON.parse(raw) as ChatCompletionRequestBody) : undefined;
    } catch {
      body = undefined;
    }
    const stream = body?.stream === true;
    requests.push({ method: request.method ?? 'GET', path, headers: request.headers, body, stream });

    if (request.method !== 'POST' || path !== '/v1/chat/completions') {
      sendJson(response, 404, { error: { message: `no route ${request.method} ${path}`, type: 'invalid_request_error' } });
      return;
    }
    if (body === undefined) {
      sendJson(response, 400, { error: { message: 'the body must be JSON', type: 'invalid_request_error' } });
      return;
    }
    const scripted = queue.shift();
    if (scripted === undefined) {
      sendJson(response, 500, { error: { message: 'no scripted response', type: 'server_error' } });
      return;
    }
    if (scripted.delayMs !== undefined && scripted.delayMs > 0) await http.wait(scripted.delayMs);
    // The client may have given up while we waited (a timeout): nothing left to answer.
    if (response.destroyed || request.socket.destroyed) return;

    if (scripted.kind === 'error') {
      sendJson(response, scripted.status, { error: { message: scripted.message ?? `scripted ${scripted.status}`, type: 'server_error', code: scripted.code ?? null } }, scripted.headers);
      return;
    }
    sequence += 1;
    const id = `chatcmpl-${sequence}`;
    const model = typeof body.model === 'string' ? body.model : 'unknown';
    const usage = scripted.usage ?? DEFAULT_SCRIPTED_USAGE;
    if (stream) writeStream(response, id, model, scripted, usage, body.stream_options?.include_usage === true);
    else sendJson(response, 200, completion(id, model, scripted, usage));
  }

  const http = await startLoopbackHttpServer(handle, (response, error) => sendJson(response, 500, { error: { message: String(error), type: 'server_error' } }));

  return {
    baseUrl: `http://127.0.0.1:${http.port}/v1`,
    get requests() {
      return requests;
    },
    get completionRequests() {
      return requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions');
    },
    enqueue: (...responses) => void queue.push(...responses),
    pending: () => queue.length,
    reset: () => {
      queue.length = 0;
      requests.length = 0;
    },
    close: () => http.close(),
  };
}

const argumentsText = (call: ScriptedToolCall) => (typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments));
const toolCallId = (call: ScriptedToolCall, index: number) => call.id ?? `call_${index + 1}`;
const usageJson = (usage: ScriptedUsage) => ({
  prompt_tokens: usage.promptTokens,
  completion_tokens: usage.completionTokens,
  total_tokens: usage.promptTokens + usage.completionTokens,
});

function completion(id: string, model: string, scripted: ScriptedText | ScriptedToolCalls, usage: ScriptedUsage) {
  const message =
    scripted.kind === 'text'
      ? { role: 'assistant', content: scripted.text }
      : {
          role: 'assistant',
          content: scripted.text ?? null,
          tool_calls: scripted.calls.map((call, index) => ({
            id: toolCallId(call, index),
            type: 'function',
            function: { name: call.name, arguments: argumentsText(call) },
          })),
        };
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: scripted.kind === 'text' ? 'stop' : 'tool_calls' }],
    usage: usageJson(usage),
  };
}

/** Splits text the way models stream it: words with their leading space. */
const words = (text: string) => text.match(/\s*\S+\s*/g) ?? (text.length > 0 ? [text] : []);

function writeStream(
  response: ServerResponse,
  id: string,
  model: string,
  scripted: ScriptedText | ScriptedToolCalls,
  usage: ScriptedUsage,
  includeUsage: boolean,
): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const created = Math.floor(Date.now() / 1000);
  const send = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    response.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`);
  const delta = (value: Record<string, unknown>, finishReason: string | null = null) =>
    send([{ index: 0, delta: value, logprobs: null, finish_reason: finishReason }]);

  delta({ role: 'assistant', content: '' });
  const text = scripted.kind === 'text' ? scripted.text : (scripted.text ?? '');
  const pieces = scripted.kind === 'text' && scripted.chunks !== undefined ? scripted.chunks : words(text);
  for (const [index, piece] of pieces.entries()) {
    if (scripted.kind === 'text' && scripted.dropAfterChunks === index) {
      // An SSE comment flushes what was written; the connection drops once it is out.
      response.write(':\n\n', () => response.destroy());
      return;
    }
    delta({ content: piece });
  }
  if (scripted.kind === 'tool-calls') {
    scripted.calls.forEach((call, index) => {
      delta({ tool_calls: [{ index, id: toolCallId(call, index), type: 'function', function: { name: call.name, arguments: '' } }] });
      // Arguments arrive in fragments, as they do from real servers.
      const args = argumentsText(call);
      const middle = Math.ceil(args.length / 2);
      for (const fragment of [args.slice(0, middle), args.slice(middle)]) {
        if (fragment.length > 0) delta({ tool_calls: [{ index, function: { arguments: fragment } }] });
      }
    });
  }
  delta({}, scripted.kind === 'text' ? 'stop' : 'tool_calls');
  if (includeUsage) send([], { usage: usageJson(usage) });
  response.write('data: [DONE]\n\n');
  response.end();
}
