import { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type WebSocket from 'ws';
import type { ReplyToken } from '@meridian/agents';
import type { ApprovalDecision } from '@meridian/domain';
import type { Principal } from '@meridian/infrastructure/auth/principal';
import { InMemoryEventStore } from '@meridian/infrastructure/event-store/in-memory-event-store';
import { InProcessRealtimeFeed } from '@meridian/infrastructure/realtime/in-process-realtime-feed';
import type { CommandResult, RealtimeCommands } from './realtime-commands';
import { RealtimeConnection } from './realtime-connection';
import type { ServerMessage } from './realtime-protocol';
import { DEFAULT_WS_GATEWAY_OPTIONS, type WsGatewayOptions } from './ws-gateway.options';

const OPEN = 1;

/** The socket as the connection uses it: frames in through 'message', frames out recorded. */
class SocketDouble extends EventEmitter {
  readyState = OPEN;
  bufferedAmount = 0;
  readonly sent: ServerMessage[] = [];

  send(data: string, callback?: (error?: Error) => void): void {
    this.sent.push(JSON.parse(data) as ServerMessage);
    callback?.();
  }

  receive(message: unknown): void {
    this.emit('message', Buffer.from(JSON.stringify(message)));
  }

  ping(): void {}
  close(): void {
    this.readyState = 3;
  }
  terminate(): void {
    this.readyState = 3;
  }
}

/** Commands that stay unanswered until the test settles them. */
class HeldCommands implements RealtimeCommands {
  readonly held: Array<{ settle: (result: CommandResult<{ messageId: string }>) => void; input: unknown }> = [];

  postMessage(_principal: Principal, input: { conversationId: string; content: string }): Promise<CommandResult<{ messageId: string }>> {
    return new Promise((settle) => this.held.push({ settle, input }));
  }

  resolveApproval(
    _principal: Principal,
    input: { conversationId: string; approvalId: string; decision: ApprovalDecision; comment?: string },
  ): Promise<CommandResult<Record<never, never>>> {
    return new Promise((settle) => this.held.push({ settle: (r) => settle(r.ok ? { ok: true, position: r.position, correlationId: r.correlationId } : r), input }));
  }
}

const principal: Principal = { tenantId: 'acme', role: 'admin', actor: { kind: 'api-key', id: 'k-1' } };

const feeds: InProcessRealtimeFeed[] = [];
afterEach(async () => {
  await Promise.all(feeds.splice(0).map((feed) => feed.stop()));
});

async function connect(commands: RealtimeCommands | null, options: Partial<WsGatewayOptions> = {}): Promise<{ socket: SocketDouble; connection: RealtimeConnection }> {
  const socket = new SocketDouble();
  const store = new InMemoryEventStore();
  const feed = new InProcessRealtimeFeed(store);
  await feed.start();
  feeds.push(feed);
  const connection = new RealtimeConnection(socket as unknown as WebSocket, principal, {
    store,
    feed,
    commands,
    options: { ...DEFAULT_WS_GATEWAY_OPTIONS, heartbeatIntervalMs: 0, ...options },
    logger: new Logger('test'),
    onBackpressureClose: () => undefined,
  });
  return { socket, connection };
}

async function until(socket: SocketDouble, predicate: (m: ServerMessage) => boolean): Promise<ServerMessage> {
  for (let i = 0; i < 100; i++) {
    const found = socket.sent.find(predicate);
    if (found) return found;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('message not sent');
}

const token = (overrides: Partial<ReplyToken> = {}): ReplyToken => ({ tenantId: 'acme', conversationId: 'c-1', messageId: 'm-1', agentId: 'a-1', delta: 'Hel', ...overrides });

describe('RealtimeConnection', () => {
  describe('reply tokens', () => {
    it('sends a token only for a conversation the client follows, in its own tenant', async () => {
      const { socket, connection } = await connect(null);
      connection.deliverToken(token());
      expect(socket.sent).toEqual([]);

      socket.receive({ type: 'subscribe', channel: 'conversation:c-1' });
      await until(socket, (m) => m.type === 'caught-up');
      socket.sent.length = 0;
      connection.deliverToken(token());
      connection.deliverToken(token({ tenantId: 'other', delta: 'x' }));
      connection.deliverToken(token({ conversationId: 'c-2', delta: 'y' }));
      connection.deliverToken(token({ delta: 'lo' }));
      expect(socket.sent).toEqual([
        { type: 'token', conversationId: 'c-1', messageId: 'm-1', agentId: 'a-1', delta: 'Hel' },
        { type: 'token', conversationId: 'c-1', messageId: 'm-1', agentId: 'a-1', delta: 'lo' },
      ]);

      socket.receive({ type: 'unsubscribe', channel: 'conversation:c-1' });
      socket.sent.length = 0;
      connection.deliverToken(token());
      expect(socket.sent).toEqual([]);
    });

    it('drops tokens (never the connection) while the client is behind', async () => {
      const { socket, connection } = await connect(null, { maxBufferedBytes: 1000 });
      socket.receive({ type: 'subscribe', channel: 'conversation:c-1' });
      await until(socket, (m) => m.type === 'caught-up');
      socket.sent.length = 0;
      socket.bufferedAmount = 1001;
      connection.deliverToken(token());
      expect(socket.sent).toEqual([]);
      expect(socket.readyState).toBe(OPEN);
      socket.bufferedAmount = 0;
      connection.deliverToken(token({ delta: 'again' }));
      expect(socket.sent).toEqual([expect.objectContaining({ type: 'token', delta: 'again' })]);
    });
  });

  describe('commands', () => {
    it('treats message and approval as unknown types when the server has no command side', async () => {
      const { socket } = await connect(null);
      socket.receive({ type: 'message', conversationId: 'c-1', content: 'hi', requestId: 'r' });
      expect(socket.sent).toEqual([{ type: 'error', code: 'UNKNOWN_MESSAGE_TYPE', detail: 'Unknown message type "message": expected one of "subscribe", "unsubscribe".', requestId: 'r' }]);
    });

    it('answers each command by its requestId, whatever order they finish in', async () => {
      const commands = new HeldCommands();
      const { socket } = await connect(commands);
      socket.receive({ type: 'message', conversationId: 'c-1', content: 'first', requestId: 1 });
      socket.receive({ type: 'approval', conversationId: 'c-1', approvalId: 'a-1', decision: 'reject', requestId: 'second' });
      expect(commands.held.map((h) => h.input)).toEqual([
        { conversationId: 'c-1', content: 'first' },
        { conversationId: 'c-1', approvalId: 'a-1', decision: 'reject' },
      ]);
      commands.held[1].settle({ ok: false, code: 'APPROVAL_NOT_FOUND', detail: 'no such approval' });
      commands.held[0].settle({ ok: true, messageId: 'm-9', position: 12, correlationId: 'corr-1' });
      await until(socket, (m) => m.type === 'ack');
      expect(socket.sent).toEqual([
        { type: 'error', code: 'APPROVAL_NOT_FOUND', detail: 'no such approval', of: 'approval', conversationId: 'c-1', requestId: 'second' },
        { type: 'ack', of: 'message', conversationId: 'c-1', messageId: 'm-9', position: 12, correlationId: 'corr-1', requestId: 1 },
      ]);
    });

    it('refuses commands beyond the pending limit until earlier ones are answered', async () => {
      const commands = new HeldCommands();
      const { socket } = await connect(commands, { maxPendingCommandsPerConnection: 2 });
      for (const requestId of ['a', 'b', 'c']) socket.receive({ type: 'message', conversationId: 'c-1', content: requestId, requestId });
      expect(commands.held).toHaveLength(2);
      expect(socket.sent).toEqual([expect.objectContaining({ type: 'error', code: 'TOO_MANY_PENDING_REQUESTS', of: 'message', requestId: 'c' })]);

      commands.held[0].settle({ ok: true, messageId: 'm-a', position: 1, correlationId: 'x' });
      await until(socket, (m) => m.type === 'ack');
      socket.receive({ type: 'message', conversationId: 'c-1', content: 'd', requestId: 'd' });
      expect(commands.held).toHaveLength(3);
    });

    it('never runs an invalid command', async () => {
      const commands = new HeldCommands();
      const { socket } = await connect(commands);
      socket.receive({ type: 'message', conversationId: 'c-1', requestId: 'no-content' });
      socket.receive({ type: 'approval', conversationId: 'c-1', approvalId: 'a-1', decision: 'approve', id: 'x', requestId: 'extra' });
      expect(commands.held).toEqual([]);
      expect(socket.sent).toEqual([
        expect.objectContaining({ code: 'VALIDATION_FAILED', of: 'message', requestId: 'no-content', errors: [{ path: '/content', message: 'is required' }] }),
        expect.objectContaining({ code: 'VALIDATION_FAILED', of: 'approval', requestId: 'extra', errors: [{ path: '/id', message: 'unknown field' }] }),
      ]);
    });
  });
});
