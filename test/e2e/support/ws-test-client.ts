import WebSocket from 'ws';
import type { EventMessage, ServerMessage } from '../../../apps/gateway/src/realtime/realtime-protocol';

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

interface Waiter {
  readonly predicate: (message: ServerMessage) => boolean;
  readonly resolve: (message: ServerMessage) => void;
  readonly reject: (error: Error) => void;
  readonly description: string;
}

/**
 * A real `ws` client that records every message, so a test waits for the message it expects
 * (never for time to pass).
 */
export class WsTestClient {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<CloseInfo>;
  private readonly waiters = new Set<Waiter>();
  private closeInfo: CloseInfo | null = null;

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        for (const waiter of this.waiters) waiter.reject(new Error(`connection closed (${code} ${this.closeInfo.reason}) while waiting for ${waiter.description}`));
        this.waiters.clear();
        resolve(this.closeInfo);
      });
    });
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as ServerMessage;
      this.messages.push(message);
      for (const waiter of this.waiters) {
        if (waiter.predicate(message)) {
          this.waiters.delete(waiter);
          waiter.resolve(message);
        }
      }
    });
  }

  /** Opens a connection; resolves once the handshake is done (the server may still close it). */
  static async connect(url: string, headers: Record<string, string> = {}): Promise<WsTestClient> {
    const socket = new WebSocket(url, { headers });
    const client = new WsTestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message (already received or still to come) that satisfies `predicate`. */
  waitFor<M extends ServerMessage = ServerMessage>(predicate: (message: ServerMessage) => boolean, description: string): Promise<M> {
    const found = this.messages.find(predicate);
    if (found) return Promise.resolve(found as M);
    if (this.closeInfo) return Promise.reject(new Error(`connection already closed (${this.closeInfo.code}) before ${description}`));
    return new Promise<M>((resolve, reject) => {
      this.waiters.add({ predicate, resolve: (m) => resolve(m as M), reject, description });
    });
  }

  waitForType<T extends ServerMessage['type']>(type: T, channel?: string): Promise<Extract<ServerMessage, { type: T }>> {
    return this.waitFor((m) => m.type === type && (channel === undefined || ('channel' in m && m.channel === channel)), `"${type}"${channel ? ` on ${channel}` : ''}`);
  }

  /** Waits for the channel's event at `position` (so every earlier one has arrived too). */
  waitForPosition(channel: string, position: number): Promise<EventMessage> {
    return this.waitFor<EventMessage>((m) => m.type === 'event' && m.channel === channel && m.position === position, `event ${position} on ${channel}`);
  }

  events(channel: string): EventMessage[] {
    return this.messages.filter((m): m is EventMessage => m.type === 'event' && m.channel === channel);
  }

  /** The answer (`ack` or `error`) to the command sent with `requestId`. */
  reply(requestId: string | number): Promise<Extract<ServerMessage, { type: 'ack' | 'error' }>> {
    return this.waitFor((m) => (m.type === 'ack' || m.type === 'error') && m.requestId === requestId, `the answer to request ${requestId}`);
  }

  /** Sends a command with `requestId` and resolves with its answer. */
  command(message: Record<string, unknown> & { requestId: string | number }): Promise<Extract<ServerMessage, { type: 'ack' | 'error' }>> {
    this.send(message);
    return this.reply(message.requestId);
  }

  /** Index in `messages` of the first message satisfying `predicate` (-1 if none). */
  indexOf(predicate: (message: ServerMessage) => boolean): number {
    return this.messages.findIndex(predicate);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(1000);
    await this.closed;
  }
}
