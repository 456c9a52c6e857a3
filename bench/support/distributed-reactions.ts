import WebSocket, { type RawData } from 'ws';
import { REACTION_TYPE, sleep, UNROUTED_TYPE, wallNow } from './distributed-load';

/**
 * Per event (indexed by its `seq`): when it was sent, and when its answer arrived — the raw peer's
 * consumer receiving it, or Meridian's reaction to it showing up on a gateway WebSocket. Typed
 * arrays keep a few hundred thousand events cheap. Times are wall-clock ms (see wallNow).
 */
export class SeqTracker {
  readonly sentAt: Float64Array;
  readonly answeredAt: Float64Array;
  /** When the answer was stored (Meridian: the reaction's `recordedAt`), 0 when unknown. */
  readonly storedAt: Float64Array;
  answered = 0;
  /** Answers for an event already answered, or for an event never sent: should stay 0. */
  unexpected = 0;

  constructor(capacity: number) {
    this.sentAt = new Float64Array(capacity);
    this.answeredAt = new Float64Array(capacity);
    this.storedAt = new Float64Array(capacity);
  }

  markSent(fromSeq: number, count: number, at: number): void {
    this.sentAt.fill(at, fromSeq, Math.min(this.sentAt.length, fromSeq + count));
  }

  answer(seq: number, at: number, storedAt = 0): void {
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.sentAt.length || this.answeredAt[seq] !== 0) {
      this.unexpected++;
      return;
    }
    this.answeredAt[seq] = at;
    this.storedAt[seq] = storedAt;
    this.answered++;
  }

  /** Events sent in `fromSeq` .. `toSeq - 1` still without an answer. */
  pendingIn(fromSeq: number, toSeq: number): number {
    let pending = 0;
    for (let seq = fromSeq; seq < toSeq; seq++) if (this.sentAt[seq] !== 0 && this.answeredAt[seq] === 0) pending++;
    return pending;
  }

  stats(fromSeq: number, toSeq: number): SpanStats {
    const latencyMs: number[] = [];
    const afterStoredMs: number[] = [];
    let sent = 0;
    let firstSent = Number.POSITIVE_INFINITY;
    let lastAnswered = 0;
    for (let seq = fromSeq; seq < toSeq; seq++) {
      const sentAt = this.sentAt[seq];
      if (sentAt === 0) continue;
      sent++;
      firstSent = Math.min(firstSent, sentAt);
      const at = this.answeredAt[seq];
      if (at === 0) continue;
      latencyMs.push(at - sentAt);
      lastAnswered = Math.max(lastAnswered, at);
      if (this.storedAt[seq] !== 0) afterStoredMs.push(at - this.storedAt[seq]);
    }
    return { sent, answered: latencyMs.length, latencyMs, afterStoredMs, firstSentAt: firstSent, lastAnsweredAt: lastAnswered };
  }
}

export interface SpanStats {
  readonly sent: number;
  readonly answered: number;
  /** Sent → answered, ms, one per answered event. */
  readonly latencyMs: number[];
  /** Answer stored → answer seen, ms (Meridian: reaction committed → on the WebSocket). */
  readonly afterStoredMs: number[];
  readonly firstSentAt: number;
  readonly lastAnsweredAt: number;
}

/**
 * A WebSocket client on a gateway's `/ws`, subscribed to `events:<REACTION_TYPE>`: every reaction's
 * `data.of` (the ingested event's id, `<runId>-<seq>`) answers that event in `tracker`. Also
 * subscribed to `events:<UNROUTED_TYPE>`: such an event answers itself (its `data.seq`) in
 * `unrouted`. Only those are sent to it, so its parsing stays small next to the apps'.
 */
export class ReactionWatcher {
  fatal: string | null = null;
  readonly serverErrors: string[] = [];
  private ws: WebSocket | null = null;

  constructor(
    private readonly tracker: SeqTracker,
    private readonly idPrefix: string,
    private readonly unrouted: SeqTracker,
  ) {}

  readonly channels = [`events:${REACTION_TYPE}`, `events:${UNROUTED_TYPE}`] as const;

  async connect(baseUrl: string, apiKey: string): Promise<void> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws`, { headers: { 'x-api-key': apiKey } });
    this.ws = ws;
    const caughtUp = new Set<string>();
    let allCaughtUp: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (allCaughtUp = resolve));
    ws.on('message', (data: RawData) => {
      const at = wallNow();
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
      const message = JSON.parse(text) as { type?: unknown; channel?: unknown; eventType?: unknown; data?: { of?: unknown; seq?: unknown } | null; recordedAt?: unknown; code?: unknown; detail?: unknown };
      if (message.type === 'caught-up') {
        caughtUp.add(String(message.channel));
        if (caughtUp.size === this.channels.length) allCaughtUp();
      } else if (message.type === 'error') this.serverErrors.push(`${String(message.code)}: ${String(message.detail)}`);
      if (message.type !== 'event') return;
      const recorded = typeof message.recordedAt === 'string' ? Date.parse(message.recordedAt) : 0;
      const storedAt = Number.isFinite(recorded) ? recorded : 0;
      if (message.eventType === REACTION_TYPE) {
        const of = message.data?.of;
        if (typeof of === 'string' && of.startsWith(this.idPrefix)) this.tracker.answer(Number(of.slice(this.idPrefix.length)), at, storedAt);
      } else if (message.eventType === UNROUTED_TYPE && typeof message.data?.seq === 'number') {
        this.unrouted.answer(message.data.seq, at, storedAt);
      }
    });
    ws.on('close', (code, reason) => {
      this.fatal ??= `the WebSocket was closed by the gateway: ${code} ${reason.toString('utf8')}`;
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    for (const channel of this.channels) ws.send(JSON.stringify({ type: 'subscribe', channel }));
    await Promise.race([ready, sleep(10_000).then(() => Promise.reject(new Error(`no caught-up on ${this.channels.join(', ')} within 10 s`)))]);
  }

  close(): void {
    this.ws?.removeAllListeners('close');
    this.ws?.terminate();
  }
}
