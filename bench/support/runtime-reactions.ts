/**
 * What the runtime benchmark's WebSocket client saw, per ingested event (indexed by its `seq`):
 * when its POST was sent, how many reactions it should get, how many arrived, and when the first
 * and the last arrived. Typed arrays keep a few hundred thousand events cheap to track.
 */
export type TrackMode =
  /** An event is answered by the `reaction.<i>` events whose `data.of` is its id (agents run). */
  | 'reactions'
  /** An event is answered by itself arriving on the `events` channel (baseline run). */
  | 'ingested';

export interface SpanStats {
  readonly events: number;
  /** Events that expect at least one answer. */
  readonly answerable: number;
  readonly expected: number;
  readonly seen: number;
  /** Events with every expected answer in. */
  readonly complete: number;
  /** ms from POST sent to the first answer, one per event that got one. */
  readonly firstMs: number[];
  /** ms from POST sent to the last expected answer, one per complete event. */
  readonly allMs: number[];
  /**
   * ms from the POST's 202 to the last expected answer, one per complete event that was
   * acknowledged (negative when the answers came before the 202): the part after ingestion.
   */
  readonly allAfterAckMs: number[];
}

export class ReactionTracker {
  private readonly sentAt: Float64Array;
  private readonly ackAt: Float64Array;
  private readonly firstAt: Float64Array;
  private readonly lastAt: Float64Array;
  private readonly expected: Uint8Array;
  private readonly seen: Uint8Array;
  /** Answers expected for the events sent so far, and those of them that arrived. */
  expectedSent = 0;
  seenValid = 0;
  /** Answers beyond what the subscriptions predict (a duplicate or a wrong match): should stay 0. */
  unexpected = 0;
  /** `error` messages the server sent on the socket. */
  readonly serverErrors: string[] = [];

  constructor(
    capacity: number,
    private readonly idPrefix: string,
    private readonly mode: TrackMode,
  ) {
    this.sentAt = new Float64Array(capacity);
    this.ackAt = new Float64Array(capacity);
    this.firstAt = new Float64Array(capacity);
    this.lastAt = new Float64Array(capacity);
    this.expected = new Uint8Array(capacity);
    this.seen = new Uint8Array(capacity);
  }

  get capacity(): number {
    return this.sentAt.length;
  }

  get pending(): number {
    return this.expectedSent - this.seenValid;
  }

  setExpected(seq: number, answers: number): void {
    this.expected[seq] = answers;
  }

  expectedOf(seq: number): number {
    return this.expected[seq];
  }

  markSent(fromSeq: number, count: number, at: number): void {
    for (let seq = fromSeq; seq < fromSeq + count; seq++) {
      this.sentAt[seq] = at;
      this.expectedSent += this.expected[seq];
    }
  }

  markAcked(fromSeq: number, count: number, at: number): void {
    this.ackAt.fill(at, fromSeq, fromSeq + count);
  }

  /** One WebSocket text frame, received at `at` (performance.now()). */
  onFrame(text: string, at: number): void {
    const message = JSON.parse(text) as { type?: unknown; eventType?: unknown; data?: unknown; metadata?: unknown; code?: unknown; detail?: unknown };
    if (message.type === 'error') {
      this.serverErrors.push(`${String(message.code)}: ${String(message.detail)}`);
      return;
    }
    if (message.type !== 'event') return;
    const id = this.mode === 'reactions' ? reactionOf(message) : cloudEventIdOf(message.metadata);
    if (id === undefined || !id.startsWith(this.idPrefix)) return;
    const seq = Number(id.slice(this.idPrefix.length));
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.capacity) return;
    const seen = this.seen[seq];
    if (seen >= this.expected[seq]) {
      this.unexpected++;
      return;
    }
    this.seen[seq] = seen + 1;
    this.seenValid++;
    if (seen === 0) this.firstAt[seq] = at;
    if (seen + 1 === this.expected[seq]) this.lastAt[seq] = at;
  }

  /** Answers still missing for events `fromSeq` .. `toSeq - 1`. */
  pendingIn(fromSeq: number, toSeq: number): number {
    let pending = 0;
    for (let seq = fromSeq; seq < toSeq; seq++) pending += this.expected[seq] - this.seen[seq];
    return pending;
  }

  stats(fromSeq: number, toSeq: number): SpanStats {
    let answerable = 0;
    let expected = 0;
    let seen = 0;
    let complete = 0;
    const firstMs: number[] = [];
    const allMs: number[] = [];
    const allAfterAckMs: number[] = [];
    for (let seq = fromSeq; seq < toSeq; seq++) {
      const want = this.expected[seq];
      const got = this.seen[seq];
      expected += want;
      seen += got;
      if (want === 0) continue;
      answerable++;
      if (got > 0) firstMs.push(this.firstAt[seq] - this.sentAt[seq]);
      if (got === want) {
        complete++;
        allMs.push(this.lastAt[seq] - this.sentAt[seq]);
        if (this.ackAt[seq] > 0) allAfterAckMs.push(this.lastAt[seq] - this.ackAt[seq]);
      }
    }
    return { events: toSeq - fromSeq, answerable, expected, seen, complete, firstMs, allMs, allAfterAckMs };
  }
}

function reactionOf(message: { eventType?: unknown; data?: unknown }): string | undefined {
  if (typeof message.eventType !== 'string' || !message.eventType.startsWith('reaction.')) return undefined;
  const data = message.data as { of?: unknown } | null;
  return typeof data?.of === 'string' ? data.of : undefined;
}

function cloudEventIdOf(metadata: unknown): string | undefined {
  const envelope = (metadata as { cloudEvent?: { id?: unknown } } | null)?.cloudEvent;
  return typeof envelope?.id === 'string' ? envelope.id : undefined;
}
