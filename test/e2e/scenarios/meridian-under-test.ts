/**
 * What a user-level scenario needs from a Meridian deployment, whatever its shape: the same
 * scenarios run against the standalone app (one process) and the distributed mode (gateway
 * replicas, runtime and projector as separate processes on PostgreSQL, Redis and Kafka).
 *
 * A deployment exposes two gateway replicas, `A` and `B`. Scenarios write through one and watch
 * through the other, so that in the distributed mode nothing they check can come from the
 * replica's own memory. In the standalone mode both names are the same app.
 */
export type Replica = 'A' | 'B';

export const REPLICAS: readonly Replica[] = ['A', 'B'];

export interface RequestOptions extends RequestInit {
  /** Sent as a JSON body (content type `application/json` unless a header says otherwise). */
  readonly json?: unknown;
  /** The gateway replica to call; `A` when omitted. */
  readonly replica?: Replica;
}

/** A CloudEvent in the JSON event format. */
export type CloudEventJson = Readonly<Record<string, unknown>> & { readonly id: string; readonly source: string; readonly type: string; readonly subject?: string };

export interface MeridianUnderTest {
  /** Shown in test names and failure messages. */
  readonly mode: 'standalone' | 'distributed';
  /** An admin key of the deployment. */
  readonly apiKey: string;
  /** `fetch` against a gateway replica, with the admin key unless the headers carry credentials. */
  request(path: string, init?: RequestOptions): Promise<Response>;
  /** The WebSocket endpoint (`ws://…/ws`) of a gateway replica (`A` when omitted). */
  wsUrl(replica?: Replica): string;
  /**
   * Delivers CloudEvents the way a business system does in this mode, and resolves once they are
   * handed over (not yet stored): `POST /api/v1/events` in the standalone mode, which has no other
   * way in; in the distributed mode, one structured-mode message per event on the inbound Kafka
   * topic, keyed by subject.
   */
  publish(events: readonly CloudEventJson[]): Promise<void>;
  /** The tail of what the deployment's processes logged (empty when nothing is captured). */
  logs(): string;
  close(): Promise<void>;
}
