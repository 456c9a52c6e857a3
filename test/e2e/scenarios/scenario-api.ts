import { randomUUID } from 'node:crypto';
import type { EventMessage, ServerMessage } from '../../../apps/gateway/src/realtime/realtime-protocol';
import type { OpenAiCompatibleServer } from '../../support/openai-compatible-server';
import { eventually } from '../support/eventually';
import type { WebhookReceiver } from '../support/webhook-receiver';
import { WsTestClient } from '../support/ws-test-client';
import type { MeridianUnderTest, Replica, RequestOptions } from './meridian-under-test';

export type Json = Record<string, unknown>;

/** Outside services the scenarios' agents call, running in the test process on 127.0.0.1. */
export interface Outside {
  readonly receiver: WebhookReceiver;
  readonly llm: OpenAiCompatibleServer;
}

/** One user-level scenario: what a person or a system does, and what they then see. */
export type Scenario = (api: ScenarioApi, outside: Outside) => Promise<void>;

/**
 * Bound on waiting for asynchronous work (an agent deciding, a message crossing Kafka and Redis):
 * generous, so that it only ends a scenario that would never finish. Never a speed assertion.
 */
export const SCENARIO_WAIT_MS = 60_000;

/** What one scenario uses to act as a user: HTTP and WebSocket against the gateway replicas. */
export class ScenarioApi {
  /** A suffix that makes this scenario's ids, subjects and event types its own. */
  readonly run = randomUUID().slice(0, 8);
  private readonly sockets: WsTestClient[] = [];

  constructor(readonly meridian: MeridianUnderTest) {}

  request(path: string, init?: RequestOptions): Promise<Response> {
    return this.meridian.request(path, init);
  }

  /** POST with a JSON body; any answer other than 2xx fails the scenario with the body. */
  async post(path: string, json?: unknown, replica: Replica = 'A'): Promise<Json> {
    const res = await this.meridian.request(path, { method: 'POST', replica, ...(json !== undefined ? { json } : {}) });
    const body = (await res.json()) as Json;
    if (res.status >= 300) throw new Error(`POST ${path} on ${replica} → ${res.status}: ${JSON.stringify(body)}`);
    return body;
  }

  /** GET; any answer other than 200 fails the scenario with the body. */
  async get(path: string, replica: Replica = 'A'): Promise<Json> {
    const res = await this.meridian.request(path, { replica });
    const body = (await res.json()) as Json;
    if (res.status !== 200) throw new Error(`GET ${path} on ${replica} → ${res.status}: ${JSON.stringify(body)}`);
    return body;
  }

  async items(path: string, replica: Replica = 'A'): Promise<Json[]> {
    return (await this.get(path, replica)).items as Json[];
  }

  /** Polls until `probe` returns a value (see `eventually`), within the scenario bound. */
  eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    return eventually(what, probe, { timeoutMs: SCENARIO_WAIT_MS, intervalMs: 100 });
  }

  /** A WebSocket on a replica, authenticated with the admin key; closed when the scenario ends. */
  async connect(replica: Replica): Promise<WsTestClient> {
    const client = await WsTestClient.connect(this.meridian.wsUrl(replica), { 'X-API-Key': this.meridian.apiKey });
    this.sockets.push(client);
    return client;
  }

  /**
   * A WebSocket on `replica` subscribed to `channel` (live from the head, or replaying after
   * `fromPosition`), returned once the server says it has caught up.
   */
  async follow(replica: Replica, channel: string, fromPosition?: number): Promise<WsTestClient> {
    const client = await this.connect(replica);
    client.send({ type: 'subscribe', channel, ...(fromPosition !== undefined ? { fromPosition } : {}) });
    await this.wsWait(client.waitForType('caught-up', channel), `"caught-up" on ${channel} (${replica})`);
    return client;
  }

  /** The first event on `channel` satisfying `predicate`, received or still to come. */
  waitForEvent(client: WsTestClient, channel: string, predicate: (event: EventMessage) => boolean, what: string): Promise<EventMessage> {
    return this.wsWait(client.waitFor<EventMessage>((m: ServerMessage) => m.type === 'event' && m.channel === channel && predicate(m), what), what);
  }

  /** Bounds a WebSocket wait, so a message that never comes fails with what was expected. */
  async wsWait<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what} on the WebSocket`)), SCENARIO_WAIT_MS);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async closeSockets(): Promise<void> {
    await Promise.all(this.sockets.splice(0).map((socket) => socket.close()));
  }
}

/** The ingested event's subject, read from its stream (`<tenant>/entity-<subject>`). */
export function subjectOf(event: EventMessage): string | null {
  const marker = '/entity-';
  const at = event.streamName.indexOf(marker);
  return at < 0 ? null : event.streamName.slice(at + marker.length);
}

export function strictlyIncreasing(positions: readonly number[]): boolean {
  return positions.every((position, i) => i === 0 || position > positions[i - 1]);
}
