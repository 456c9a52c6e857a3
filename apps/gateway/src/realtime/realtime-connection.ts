import type { Logger } from '@nestjs/common';
import WebSocket, { type RawData } from 'ws';
import type { ReplyToken } from '@meridian/agents';
import type { EventStore } from '@meridian/domain';
import type { Principal } from '@meridian/infrastructure/auth/principal';
import type { RealtimeFeed } from '@meridian/infrastructure/realtime/realtime-feed.port';
import { ChannelSubscription, type ChannelOutput } from './channel-subscription';
import type { CommandResult, RealtimeCommands } from './realtime-commands';
import { parseChannel } from './realtime-channel';
import {
  parseClientMessage,
  SUBSCRIPTION_MESSAGE_TYPES,
  ALL_CLIENT_MESSAGE_TYPES,
  type ApprovalMessage,
  type CommandMessageType,
  type PostMessageMessage,
  type RequestId,
  type ServerMessage,
  type SubscribeMessage,
  type UnsubscribeMessage,
} from './realtime-protocol';
import type { WsGatewayOptions } from './ws-gateway.options';

export interface RealtimeConnectionDeps {
  readonly store: EventStore;
  readonly feed: RealtimeFeed;
  /** Where `message` and `approval` are written; null when the app has no command side (they are then unknown types). */
  readonly commands: RealtimeCommands | null;
  readonly options: WsGatewayOptions;
  readonly logger: Logger;
  /** Told when this connection is closed because the client does not keep up. */
  readonly onBackpressureClose: () => void;
}

/** Close code for a client that lags too far (RFC 6455 "try again later"). */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * One authenticated WebSocket client: its subscriptions (one per channel) and the single way out
 * to its socket, where the backlog is watched.
 */
export class RealtimeConnection implements ChannelOutput {
  private readonly subscriptions = new Map<string, ChannelSubscription>();
  private closing = false;
  /** Commands received and not answered yet. */
  private pendingCommands = 0;
  /** Cleared at each heartbeat ping, set again by the pong. */
  private alive = true;

  constructor(
    private readonly socket: WebSocket,
    readonly principal: Principal,
    private readonly deps: RealtimeConnectionDeps,
  ) {
    socket.on('message', (data) => this.onMessage(data));
    socket.on('pong', () => {
      this.alive = true;
    });
  }

  send(message: ServerMessage): boolean {
    if (!this.canSend()) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  sendAndWait(message: ServerMessage): Promise<boolean> {
    if (!this.canSend()) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.send(JSON.stringify(message), (error) => resolve(!error)));
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  admitLive(): boolean {
    if (!this.canSend()) return false;
    if (this.socket.bufferedAmount <= this.deps.options.maxBufferedBytes) return true;
    this.deps.logger.warn(
      { tenantId: this.principal.tenantId, actor: this.principal.actor.id, bufferedAmount: this.socket.bufferedAmount },
      'Closing a WebSocket client that does not keep up with live events',
    );
    this.deps.onBackpressureClose();
    this.close(CLOSE_TRY_AGAIN_LATER, 'Client is not keeping up; resubscribe with fromPosition');
    return false;
  }

  /** Heartbeat: drops a client that did not answer the previous ping (a dead peer holds nothing). */
  ping(): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (!this.alive) {
      this.dispose();
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.dispose();
    this.socket.close(code, reason);
  }

  /**
   * Sends a streamed piece of a reply when the client follows that conversation. Tokens are
   * ephemeral (the complete reply arrives as an event), so a client whose backlog is already over
   * the limit misses them rather than being closed for them.
   */
  deliverToken(token: ReplyToken): void {
    if (token.tenantId !== this.principal.tenantId) return;
    if (!this.subscriptions.has(`conversation:${token.conversationId}`)) return;
    if (!this.canSend() || this.socket.bufferedAmount > this.deps.options.maxBufferedBytes) return;
    this.send({ type: 'token', conversationId: token.conversationId, messageId: token.messageId, agentId: token.agentId, delta: token.delta });
  }

  /** Stops every subscription; nothing is sent afterwards. */
  dispose(): void {
    this.closing = true;
    for (const subscription of this.subscriptions.values()) subscription.stop();
    this.subscriptions.clear();
  }

  private canSend(): boolean {
    return !this.closing && this.socket.readyState === WebSocket.OPEN;
  }

  private onMessage(data: RawData): void {
    if (this.closing) return;
    const parsed = parseClientMessage(toText(data), this.deps.commands ? ALL_CLIENT_MESSAGE_TYPES : SUBSCRIPTION_MESSAGE_TYPES);
    if (!parsed.ok) {
      this.send(parsed.error);
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'subscribe':
        this.subscribe(message);
        break;
      case 'unsubscribe':
        this.unsubscribe(message);
        break;
      case 'message':
      case 'approval':
        this.command(message);
        break;
    }
  }

  /** Commands run concurrently (a slow one does not hold up the rest); `requestId` tells their answers apart. */
  private command(message: PostMessageMessage | ApprovalMessage): void {
    const commands = this.deps.commands;
    const reply = { of: message.type, conversationId: message.conversationId, ...echoRequest(message.requestId) };
    if (commands === null) return; // not reached: without a command side these types do not parse
    const max = this.deps.options.maxPendingCommandsPerConnection;
    if (this.pendingCommands >= max) {
      this.send({ type: 'error', code: 'TOO_MANY_PENDING_REQUESTS', detail: `At most ${max} commands per connection may await their answer; wait for an ack.`, ...reply });
      return;
    }
    this.pendingCommands++;
    const answered =
      message.type === 'message'
        ? commands.postMessage(this.principal, { conversationId: message.conversationId, content: message.content }).then((result) =>
            this.answer(result, reply, (ok) => ({ type: 'ack', of: 'message', conversationId: message.conversationId, messageId: ok.messageId, position: ok.position, correlationId: ok.correlationId, ...echoRequest(message.requestId) })),
          )
        : commands
            .resolveApproval(this.principal, {
              conversationId: message.conversationId,
              approvalId: message.approvalId,
              decision: message.decision,
              ...(message.comment !== undefined ? { comment: message.comment } : {}),
            })
            .then((result) =>
              this.answer(result, reply, (ok) => ({
                type: 'ack',
                of: 'approval',
                conversationId: message.conversationId,
                approvalId: message.approvalId,
                decision: message.decision,
                position: ok.position,
                correlationId: ok.correlationId,
                ...echoRequest(message.requestId),
              })),
            );
    answered
      .catch((error: unknown) => {
        this.deps.logger.error({ err: error, tenantId: this.principal.tenantId }, 'WebSocket command failed');
        this.send({ type: 'error', code: 'INTERNAL_ERROR', detail: 'The command failed unexpectedly.', ...reply });
      })
      .finally(() => {
        this.pendingCommands--;
      });
  }

  private answer<T>(
    result: CommandResult<T>,
    reply: { of: CommandMessageType; conversationId: string; requestId?: RequestId },
    ack: (ok: Extract<CommandResult<T>, { ok: true }>) => ServerMessage,
  ): void {
    if (result.ok) this.send(ack(result as Extract<CommandResult<T>, { ok: true }>));
    else this.send({ type: 'error', code: result.code, detail: result.detail, ...(result.errors !== undefined ? { errors: result.errors } : {}), ...reply });
  }

  private subscribe(message: SubscribeMessage): void {
    const reply = { channel: message.channel, ...echo(message.id) };
    const parsed = parseChannel(message.channel, this.principal.tenantId);
    if (!parsed.ok) {
      this.send({ type: 'error', code: 'INVALID_CHANNEL', detail: parsed.detail, ...reply });
      return;
    }
    if (this.subscriptions.has(message.channel)) {
      this.send({ type: 'error', code: 'ALREADY_SUBSCRIBED', detail: `Already subscribed to "${message.channel}".`, ...reply });
      return;
    }
    const max = this.deps.options.maxSubscriptionsPerConnection;
    if (this.subscriptions.size >= max) {
      this.send({ type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS', detail: `At most ${max} subscriptions per connection.`, ...reply });
      return;
    }
    const { replayPageSize, maxPendingEvents, maxBufferedBytes } = this.deps.options;
    const subscription = new ChannelSubscription(
      parsed.channel,
      this.deps.store,
      this.deps.feed,
      this,
      // Replay keeps well under the live limit, so replaying never gets a client closed.
      { replayPageSize, maxPendingEvents, replayHighWaterBytes: Math.floor(maxBufferedBytes / 4) },
      message.id,
    );
    this.subscriptions.set(message.channel, subscription);
    subscription.start(message.fromPosition).catch((error: unknown) => {
      subscription.stop();
      if (this.subscriptions.get(message.channel) === subscription) this.subscriptions.delete(message.channel);
      if (this.closing) return;
      this.deps.logger.error({ err: error, tenantId: this.principal.tenantId, channel: message.channel }, 'WebSocket subscription failed');
      this.send({ type: 'error', code: 'INTERNAL_ERROR', detail: 'The subscription failed; subscribe again with fromPosition.', ...reply });
    });
  }

  private unsubscribe(message: UnsubscribeMessage): void {
    const reply = { channel: message.channel, ...echo(message.id) };
    const subscription = this.subscriptions.get(message.channel);
    if (!subscription) {
      this.send({ type: 'error', code: 'NOT_SUBSCRIBED', detail: `Not subscribed to "${message.channel}".`, ...reply });
      return;
    }
    subscription.stop();
    this.subscriptions.delete(message.channel);
    this.send({ type: 'unsubscribed', ...reply });
  }
}

function echo(id: RequestId | undefined): { id?: RequestId } {
  return id !== undefined ? { id } : {};
}

function echoRequest(requestId: RequestId | undefined): { requestId?: RequestId } {
  return requestId !== undefined ? { requestId } : {};
}

function toText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
