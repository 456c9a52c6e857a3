/**
 * A scripted Anthropic Messages API server for tests: real HTTP on 127.0.0.1 (node:http), speaking
 * `POST /v1/messages` both as one JSON answer and as server-sent events (`stream: true`), in the
 * event order the API uses: message_start, then per content block content_block_start,
 * content_block_delta (text_delta / input_json_delta) and content_block_stop, then message_delta
 * (stop reason and cumulative output tokens) and message_stop.
 *
 * Each test queues the answers it wants, in order; every request takes the next one. An empty
 * queue answers 500 with `no scripted response`, so a test that makes more model calls than it
 * expected fails loudly instead of hanging. Every request is recorded (parsed body and headers),
 * so tests can count model calls and inspect what was sent. As the real API does, a request
 * without an `anthropic-version` header is rejected with 400.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson, startLoopbackHttpServer } from './loopback-http-server';

export interface ScriptedAnthropicUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /**
   * Streaming only: the preliminary output count in message_start (the real API sends a small
   * number there, e.g. 1, and the final cumulative count in message_delta). Default 1.
   */
  readonly startOutputTokens?: number;
}

export interface ScriptedAnthropicToolUse {
  readonly name: string;
  /**
   * An object is sent as the tool input. A string is streamed as is (to script malformed JSON);
   * in a JSON answer it is sent as the input value unchanged.
   */
  readonly input: unknown;
  readonly id?: string;
}

interface ScriptedBase {
  /** Wait this long before answering (before the headers, so the client sees nothing until then). */
  readonly delayMs?: number;
  readonly usage?: ScriptedAnthropicUsage;
}

/** A plain text answer (`stop_reason: 'end_turn'`). `chunks` sets how a streamed answer is split (default: by word). */
export interface ScriptedAnthropicText extends ScriptedBase {
  readonly kind: 'text';
  readonly text: string;
  readonly chunks?: readonly string[];
  /** Streaming only: drop the connection after this many text deltas (a server dying mid-answer). */
  readonly dropAfterChunks?: number;
}

/** An answer calling tools (`stop_reason: 'tool_use'`), with optional text before the tool_use blocks. */
export interface ScriptedAnthropicToolUses extends ScriptedBase {
  readonly kind: 'tool-use';
  readonly calls: readonly ScriptedAnthropicToolUse[];
  readonly text?: string;
}

/** An HTTP error answer in the Anthropic error shape (`{ type: 'error', error: { type, message } }`). */
export interface ScriptedAnthropicError {
  readonly kind: 'error';
  /** e.g. 400, 401, 429, 500, 529 (overloaded). */
  readonly status: number;
  readonly message?: string;
  /** The Anthropic error type; defaults to the one the API uses for the status. */
  readonly type?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly delayMs?: number;
}

export type ScriptedAnthropicResponse = ScriptedAnthropicText | ScriptedAnthropicToolUses | ScriptedAnthropicError;

/** The parts of a Messages API request tests look at; everything else stays in the object. */
export interface MessagesRequestBody {
  readonly model?: string;
  readonly max_tokens?: number;
  readonly system?: unknown;
  readonly messages?: ReadonlyArray<{ readonly role: string; readonly content?: unknown }>;
  readonly tools?: ReadonlyArray<{ readonly name: string; readonly description?: string; readonly input_schema?: unknown }>;
  readonly stream?: boolean;
  readonly temperature?: number;
  readonly [key: string]: unknown;
}

export interface RecordedAnthropicRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when the body was not JSON). */
  readonly body: MessagesRequestBody | undefined;
  readonly stream: boolean;
}

export interface AnthropicCompatibleServer {
  /** `http://127.0.0.1:<port>`, what Anthropic clients take as their base URL (they add `/v1/messages`). */
  readonly baseUrl: string;
  readonly requests: readonly RecordedAnthropicRequest[];
  /** `POST /v1/messages` requests only. */
  readonly messageRequests: readonly RecordedAnthropicRequest[];
  enqueue(...responses: ScriptedAnthropicResponse[]): void;
  /** Scripted responses not consumed yet. */
  pending(): number;
  /** Forgets recorded requests and queued responses. */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_SCRIPTED_ANTHROPIC_USAGE: ScriptedAnthropicUsage = { inputTokens: 11, outputTokens: 7 };

/** The error type the API answers with for each status. */
const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export async function startAnthropicCompatibleServer(): Promise<AnthropicCompatibleServer> {
  const queue: ScriptedAnthropicResponse[] = [];
  const requests: RecordedAnthropicRequest[] = [];
  let sequence = 0;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readBody(request);
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    let body: MessagesRequestBody | undefined;
    try {
      body = raw.length > 0 ? (JSON.parse(raw) as MessagesRequestBody) : undefined;
    } catch {
      body = undefined;
    }
    const stream = body?.stream === true;
    requests.push({ method: request.method ?? 'GET', path, headers: request.headers, body, stream });

    if (request.method !== 'POST' || path !== '/v1/messages') {
      sendError(response, 404, `no route ${request.method} ${path}`);
      return;
    }
    if (request.headers['anthropic-version'] === undefined) {
      sendError(response, 400, 'anthropic-version: header is required');
      return;
    }
    if (body === undefined) {
      sendError(response, 400, 'the body must be JSON');
      return;
    }
    const scripted = queue.shift();
    if (scripted === undefined) {
      sendError(response, 500, 'no scripted response');
      return;
    }
    if (scripted.delayMs !== undefined && scripted.delayMs > 0) await http.wait(scripted.delayMs);
    // The client may have given up while we waited (a timeout): nothing left to answer.
    if (response.destroyed || request.socket.destroyed) return;

    if (scripted.kind === 'error') {
      sendError(response, scripted.status, scripted.message ?? `scripted ${scripted.status}`, scripted.type, scripted.headers);
      return;
    }
    sequence += 1;
    const id = `msg_scripted_${sequence}`;
    const model = typeof body.model === 'string' ? body.model : 'unknown';
    const usage = scripted.usage ?? DEFAULT_SCRIPTED_ANTHROPIC_USAGE;
    if (stream) writeStream(response, id, model, scripted, usage);
    else sendJson(response, 200, message(id, model, scripted, usage));
  }

  const http = await startLoopbackHttpServer(handle, (response, error) => sendError(response, 500, String(error)));

  return {
    baseUrl: `http://127.0.0.1:${http.port}`,
    get requests() {
      return requests;
    },
    get messageRequests() {
      return requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
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

function sendError(response: ServerResponse, status: number, message: string, type?: string, headers: Readonly<Record<string, string>> = {}): void {
  const errorType = type ?? ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  sendJson(response, status, { type: 'error', error: { type: errorType, message } }, headers);
}

const toolUseId = (call: ScriptedAnthropicToolUse, index: number) => call.id ?? `toolu_${index + 1}`;
const inputJson = (call: ScriptedAnthropicToolUse) => (typeof call.input === 'string' ? call.input : JSON.stringify(call.input));

function contentBlocks(scripted: ScriptedAnthropicText | ScriptedAnthropicToolUses): Array<Record<string, unknown>> {
  if (scripted.kind === 'text') return [{ type: 'text', text: scripted.text }];
  const text = scripted.text !== undefined && scripted.text !== '' ? [{ type: 'text', text: scripted.text }] : [];
  return [
    ...text,
    ...scripted.calls.map((call, index) => ({
      type: 'tool_use',
      id: toolUseId(call, index),
      name: call.name,
      input: call.input,
    })),
  ];
}

const stopReason = (scripted: ScriptedAnthropicText | ScriptedAnthropicToolUses) => (scripted.kind === 'text' ? 'end_turn' : 'tool_use');

function message(id: string, model: string, scripted: ScriptedAnthropicText | ScriptedAnthropicToolUses, usage: ScriptedAnthropicUsage) {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: contentBlocks(scripted),
    stop_reason: stopReason(scripted),
    stop_sequence: null,
    usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
  };
}

/** Splits text the way models stream it: words with their leading space. */
const words = (text: string) => text.match(/\s*\S+\s*/g) ?? (text.length > 0 ? [text] : []);

function writeStream(
  response: ServerResponse,
  id: string,
  model: string,
  scripted: ScriptedAnthropicText | ScriptedAnthropicToolUses,
  usage: ScriptedAnthropicUsage,
): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (event: string, data: Record<string, unknown>) => response.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);

  send('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: usage.inputTokens, output_tokens: usage.startOutputTokens ?? 1 },
    },
  });
  // The API interleaves pings; clients must skip them.
  send('ping', {});

  let index = 0;
  const text = scripted.kind === 'text' ? scripted.text : (scripted.text ?? '');
  if (scripted.kind === 'text' || text !== '') {
    const pieces = scripted.kind === 'text' && scripted.chunks !== undefined ? scripted.chunks : words(text);
    send('content_block_start', { index, content_block: { type: 'text', text: '' } });
    for (const [position, piece] of pieces.entries()) {
      if (scripted.kind === 'text' && scripted.dropAfterChunks === position) {
        // A comment line flushes what was written; the connection drops once it is out.
        response.write(':\n\n', () => response.destroy());
        return;
      }
      send('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
    }
    send('content_block_stop', { index });
    index += 1;
  }
  if (scripted.kind === 'tool-use') {
    for (const [position, call] of scripted.calls.entries()) {
      send('content_block_start', { index, content_block: { type: 'tool_use', id: toolUseId(call, position), name: call.name, input: {} } });
      // The input arrives as JSON fragments, as it does from the real API.
      const json = inputJson(call);
      const middle = Math.ceil(json.length / 2);
      for (const fragment of [json.slice(0, middle), json.slice(middle)]) {
        if (fragment.length > 0) send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: fragment } });
      }
      send('content_block_stop', { index });
      index += 1;
    }
  }
  // Usage here is cumulative: the final output count, not an increment over message_start's.
  send('message_delta', { delta: { stop_reason: stopReason(scripted), stop_sequence: null }, usage: { output_tokens: usage.outputTokens } });
  send('message_stop', {});
  response.end();
}
