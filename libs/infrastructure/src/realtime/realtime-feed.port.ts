import type { RecordedEvent } from '@meridian/domain';

/**
 * The realtime fan-out port: every newly committed event, in global order, pushed to whoever
 * listens (the WebSocket gateway). It carries no history and keeps nothing: a listener that needs
 * the past reads it from the event store, and the position of each event lets it join the two
 * without gap or duplicate.
 *
 * Contract for every adapter:
 * - Every event committed after `listen` returns is delivered to that listener (unless the feed
 *   signals a gap, below). Events committed a little earlier may be delivered too: listeners skip
 *   what they have already seen by position.
 * - Batches arrive in strictly increasing global order, never concurrently with each other.
 * - A feed that may lose events in transit (the Redis adapter when its connection drops) calls
 *   `onGap` for every listener once it is receiving again; the listener then catches up from the
 *   store from its last position. The in-process adapter never loses events and never calls it.
 * - Listeners must not throw and must return quickly (they run on the delivery path of every other
 *   listener); a listener that throws is reported and kept.
 *
 * Embedded default: one event-store subscription in this process (InProcessRealtimeFeed).
 * Production: one publisher follows the store and PUBLISHes each committed batch to Redis; every
 * gateway replica SUBSCRIBEs and fans out locally, so the store is read once per deployment, not
 * once per replica or client.
 */
export const REALTIME_FEED = Symbol('RealtimeFeed');

export type RealtimeListener = (events: readonly RecordedEvent[]) => void;

export interface RealtimeListenOptions {
  /** Called when events may have been lost since the last batch: catch up from the store. */
  readonly onGap?: () => void;
}

export interface RealtimeFeed {
  /** Starts delivering to `listener`; the returned function stops it (idempotent). */
  listen(listener: RealtimeListener, options?: RealtimeListenOptions): () => void;
}
