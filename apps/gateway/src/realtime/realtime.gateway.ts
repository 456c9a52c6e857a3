/**
 * ## WebSocket API (`/ws`)
 *
 * Plain WebSocket (RFC 6455; no Socket.IO). Every message, both ways, is one JSON object in a text
 * frame with a `type` field.
 *
 * ### Connecting
 *
 * Authenticate with the same API keys as REST, on the upgrade request: `X-API-Key: <key>` or
 * `Authorization: Bearer <key>`, or `?apiKey=<key>` in the URL (browsers cannot set headers on a
 * WebSocket handshake). Without valid credentials the server closes the connection with code
 * `4401`. The key's tenant scopes every channel: a client only ever sees its own tenant's events.
 *
 * ```
 * ws://host:3000/ws?apiKey=mk_…
 * ```
 *
 * ### Channels
 *
 * | channel                  | events                                                                |
 * |--------------------------|-----------------------------------------------------------------------|
 * | `events`                 | ingested domain events (`POST /api/v1/events`, webhooks, Kafka)       |
 * | `events:<type-prefix>`   | ingested events whose type starts with the prefix (`events:order.`; a trailing `*` is allowed: `events:order.*`) |
 * | `agent:<id>`             | the agent's own events (its stream)                                   |
 * | `conversation:<id>`      | the conversation's own events (its stream)                            |
 * | `chain:<correlationId>`  | every event of the chain (`metadata.correlationId` equals the id)     |
 *
 * Ids are 1-128 characters from `A-Z a-z 0-9 . _ : -`.
 *
 * ### Client → server
 *
 * ```jsonc
 * { "type": "subscribe", "channel": "events:order.", "fromPosition": 1200, "id": "r1" }
 * { "type": "unsubscribe", "channel": "events:order.", "id": "r2" }
 * ```
 * - `fromPosition` (optional, integer ≥ 0): replay every matching event with a position strictly
 *   greater than it, then go live. `0` replays from the beginning. Without it the subscription
 *   starts live at the current head. To resume after a disconnect, pass the `position` of the last
 *   `event` (or `caught-up`) received.
 * - `id` (optional, string ≤ 128 characters or integer): echoed on the replies to this request.
 * - Unknown fields are rejected.
 *
 * Commands — the same as the HTTP routes, with the same checks and error codes, written as the
 * key's actor (a message's author is `{ kind: "user", id: <key id> }`), each starting its own chain:
 *
 * ```jsonc
 * // POST /api/v1/conversations/:id/messages
 * { "type": "message", "conversationId": "c-1", "content": "Where is my order?", "requestId": "q1" }
 * // POST /api/v1/conversations/:id/approvals/:approvalId
 * { "type": "approval", "conversationId": "c-1", "approvalId": "…", "decision": "approve", "comment": "ok", "requestId": "q2" }
 * ```
 * - `requestId` (optional, string ≤ 128 characters or integer): echoed on the `ack` or `error`
 *   answering the command. Commands run concurrently, so answers may come in another order.
 * - `content`: not blank, at most the HTTP limit; `decision`: `approve` or `reject`; `comment`
 *   optional, not blank.
 * - The answer comes once the write is stored and the conversation read model has it (bounded
 *   wait, as over HTTP), so a read with `minPosition: position` sees it. The stored event itself
 *   arrives on `conversation:<id>` to subscribers, independently of the `ack`.
 * - By default at most 32 commands per connection await their answer at once (`TOO_MANY_PENDING_REQUESTS`).
 * - A gateway without the command side (subscriptions only) answers both with
 *   `UNKNOWN_MESSAGE_TYPE`.
 *
 * ### Server → client
 *
 * ```jsonc
 * { "type": "subscribed", "channel": "events:order.", "position": 1200, "id": "r1" }
 * { "type": "event", "channel": "events:order.", "position": 1201, "streamName": "default/entity-order-42",
 *   "revision": 3, "eventId": "…", "eventType": "order.shipped", "data": { … },
 *   "metadata": { "occurredAt": "…", "correlationId": "…", "causationId": null, "hop": 0, "tenantId": "default", "actor": { … }, … },
 *   "recordedAt": "2026-11-27T06:50:06.000Z" }
 * { "type": "caught-up", "channel": "events:order.", "position": 1534, "id": "r1" }
 * { "type": "unsubscribed", "channel": "events:order.", "id": "r2" }
 * { "type": "error", "code": "INVALID_CHANNEL", "detail": "…", "channel": "…", "id": "r1" }
 * { "type": "ack", "of": "message", "conversationId": "c-1", "messageId": "…", "position": 1540, "correlationId": "…", "requestId": "q1" }
 * { "type": "ack", "of": "approval", "conversationId": "c-1", "approvalId": "…", "decision": "approve", "position": 1544, "correlationId": "…", "requestId": "q2" }
 * { "type": "error", "of": "message", "conversationId": "c-9", "code": "CONVERSATION_NOT_FOUND", "detail": "…", "requestId": "q3" }
 * { "type": "token", "conversationId": "c-1", "messageId": "…", "agentId": "…", "delta": "Your order " }
 * ```
 * - `subscribed.position`: where the subscription starts (`fromPosition`, or the head when absent).
 * - `event`: one stored event. `eventType` is the event's own type (`type` is the message's).
 *   Events of one channel arrive in strictly increasing `position` order, each exactly once.
 * - `caught-up`: the replay is complete; every matching event up to `position` has been sent and
 *   what follows is live. Sent once per subscription, also without `fromPosition`.
 * - `ack`: the command is stored. `position` is its global position; `correlationId` is the chain
 *   it started (what the agents' answers carry; `GET /api/v1/chains/:correlationId`).
 * - `token`: a piece of an agent's reply while an LLM writes it, sent to clients subscribed to
 *   `conversation:<id>` (same tenant). Joined in order, the `delta`s of one `messageId` are the
 *   reply; the complete reply then arrives as the `conversation.reply-recorded` event whose
 *   `data.messageId` is that `messageId`, after its last token — replace the streamed text with
 *   it. Tokens are never replayed and a client behind on its backlog misses them (never the event).
 * - `error.code`: `MALFORMED_MESSAGE` (not a JSON object with a string `type`),
 *   `UNKNOWN_MESSAGE_TYPE`, `VALIDATION_FAILED` (with `errors: [{ path, message }]`),
 *   `INVALID_CHANNEL`, `ALREADY_SUBSCRIBED`, `NOT_SUBSCRIBED`, `TOO_MANY_SUBSCRIPTIONS`,
 *   `INTERNAL_ERROR` (the subscription ended; subscribe again with `fromPosition`).
 *   A command's error has `of` (`message` or `approval`), its `conversationId` and `requestId`, and
 *   the code HTTP answers the same failure with: `CONVERSATION_NOT_FOUND`, `APPROVAL_NOT_FOUND`,
 *   `APPROVAL_ALREADY_RESOLVED`, `APPROVAL_EXPIRED`, `CONVERSATION_CLOSED`, `VALIDATION_FAILED`,
 *   `FORBIDDEN` (a role the HTTP route refuses), `TOO_MANY_PENDING_REQUESTS`, `INTERNAL_ERROR`.
 *   A refused command writes nothing. An error never closes the connection.
 *
 * ### Close codes
 *
 * `4401` missing or invalid credentials · `1013` the client did not keep up with live events (its
 * unsent backlog passed the server's limit): reconnect and subscribe with `fromPosition` ·
 * `1009` a client message over 64 KiB · `1001` the server is shutting down. The server pings every
 * 30 s and drops a client that did not answer the previous ping.
 */
import { Inject, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import { TOKEN_STREAM, type ReplyToken, type TokenStream } from '@meridian/agents';
import { EVENT_STORE, type EventStore } from '@meridian/domain';
import { API_KEY_SERVICE, type ApiKeyService } from '@meridian/infrastructure/auth/api-key.service';
import { REALTIME_FEED, type RealtimeFeed } from '@meridian/infrastructure/realtime/realtime-feed.port';
import { credentialsFrom } from '../auth/credentials';
import { REALTIME_COMMANDS, type RealtimeCommands } from './realtime-commands';
import { RealtimeConnection } from './realtime-connection';
import { WS_GATEWAY_OPTIONS, type WsGatewayOptions } from './ws-gateway.options';

/** Close code for missing or invalid credentials (HTTP 401 in the application range). */
export const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_GOING_AWAY = 1001;

export interface RealtimeGatewayStats {
  readonly connections: number;
  readonly closedForBackpressure: number;
}

/** The `/ws` gateway: authenticates each connection and hands it to a RealtimeConnection. */
@WebSocketGateway({ path: '/ws', maxPayload: 64 * 1024 })
export class RealtimeGateway implements OnGatewayConnection<WebSocket>, OnGatewayDisconnect<WebSocket>, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RealtimeGateway.name);
  private readonly connections = new Map<WebSocket, RealtimeConnection>();
  private closedForBackpressure = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private unlistenTokens: () => void = () => undefined;

  constructor(
    @Inject(API_KEY_SERVICE) private readonly apiKeys: ApiKeyService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(REALTIME_FEED) private readonly feed: RealtimeFeed,
    @Inject(WS_GATEWAY_OPTIONS) private readonly options: WsGatewayOptions,
    /** Null without a command side: `message` and `approval` are then unknown types. */
    @Inject(REALTIME_COMMANDS) private readonly commands: RealtimeCommands | null,
    /** The runtime's reply tokens; absent when no runtime runs in this process. */
    @Optional() @Inject(TOKEN_STREAM) private readonly tokens?: TokenStream,
  ) {}

  onModuleInit(): void {
    if (this.tokens) this.unlistenTokens = this.tokens.listen((token) => this.onToken(token));
    if (this.options.heartbeatIntervalMs <= 0) return;
    this.heartbeat = setInterval(() => {
      for (const connection of this.connections.values()) connection.ping();
    }, this.options.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  onModuleDestroy(): void {
    this.unlistenTokens();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const connection of this.connections.values()) connection.close(CLOSE_GOING_AWAY, 'Server shutting down');
    this.connections.clear();
  }

  handleConnection(client: WebSocket, request: IncomingMessage): void {
    // Only the query string matters here; the base is a placeholder for relative request URLs.
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
    const key = credentialsFrom(request.headers, query);
    const principal = key ? this.apiKeys.authenticate(key) : null;
    if (!principal) {
      client.close(CLOSE_UNAUTHORIZED, key ? 'Invalid credentials' : 'Credentials required: X-API-Key, Authorization: Bearer, or ?apiKey=');
      return;
    }
    this.connections.set(
      client,
      new RealtimeConnection(client, principal, {
        store: this.store,
        feed: this.feed,
        commands: this.commands,
        options: this.options,
        logger: this.logger,
        onBackpressureClose: () => {
          this.closedForBackpressure++;
        },
      }),
    );
  }

  handleDisconnect(client: WebSocket): void {
    this.connections.get(client)?.dispose();
    this.connections.delete(client);
  }

  /** Each connection decides (tenant, subscription, backlog); one pass per token is cheap next to the model producing it. */
  private onToken(token: ReplyToken): void {
    for (const connection of this.connections.values()) connection.deliverToken(token);
  }

  /** For metrics and health: open connections, and how many were closed for lagging. */
  stats(): RealtimeGatewayStats {
    return { connections: this.connections.size, closedForBackpressure: this.closedForBackpressure };
  }
}
