export const WS_GATEWAY_OPTIONS = Symbol('WsGatewayOptions');

export interface WsGatewayOptions {
  /**
   * Backlog (bytes queued for a client and not yet handed to the OS) above which a client that is
   * sent live events is closed with 1013: it is not keeping up, and holding more for it would let
   * memory grow without bound. It resumes by subscribing with `fromPosition`. Checked before each
   * live batch, so one large batch alone never trips it.
   */
  readonly maxBufferedBytes: number;
  /** Events per store read while replaying. */
  readonly replayPageSize: number;
  /**
   * Live events held per subscription while it replays. Above it they are dropped and read again
   * from the store (the replay simply goes on), so a long replay costs no unbounded memory.
   */
  readonly maxPendingEvents: number;
  readonly maxSubscriptionsPerConnection: number;
  /**
   * `message` and `approval` commands of one connection that may await their answer at once; more
   * are refused (`TOO_MANY_PENDING_REQUESTS`), so one socket cannot queue unbounded writes.
   */
  readonly maxPendingCommandsPerConnection: number;
  /** Ping interval; a client that has not answered the previous ping is dropped. 0 disables. */
  readonly heartbeatIntervalMs: number;
}

export const DEFAULT_WS_GATEWAY_OPTIONS: WsGatewayOptions = {
  maxBufferedBytes: 8 * 1024 * 1024,
  replayPageSize: 500,
  maxPendingEvents: 10_000,
  maxSubscriptionsPerConnection: 100,
  maxPendingCommandsPerConnection: 32,
  heartbeatIntervalMs: 30_000,
};
