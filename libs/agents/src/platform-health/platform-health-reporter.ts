import { v4 as uuidv4 } from 'uuid';
import {
  DEFAULT_TENANT_ID,
  parseStreamName,
  streamName,
  type Actor,
  type AgentDecisionFailed,
  type ChainHaltedData,
  type CloudEvent,
  type EventStore,
  type GlobalPosition,
  type RecordedEvent,
  type Subscription,
} from '@meridian/domain';
import type { InboundEventsPort } from '../ingestion/inbound-events.port';
import { cloudEventViewOf } from '../routing/cloud-event-view';
import type { CheckpointStore } from '../runtime/checkpoint-store.port';
import { SILENT_RUNTIME_LOGGER, type RuntimeLogger } from '../runtime/runtime-logger.port';

/**
 * Platform health events: the runtime tells agents (the monitor kind) about its own troubles by
 * ingesting CloudEvents through the same path as any producer, so they are stored, deduplicated,
 * routed, projected and queryable like every other event (`GET /api/v1/events?type=meridian.*`).
 *
 * | type                          | subject          | when |
 * |-------------------------------|------------------|------|
 * | `meridian.chain.halted`       | the agent id     | a chain went beyond a budget (once per chain) |
 * | `meridian.decision.failed`    | the agent id     | a decision failed (engine error, invalid template, model failure…) |
 * | `meridian.projection.lagging` | the projection   | a projection fell more than the threshold behind the head (once per crossing) |
 * | `meridian.dead-letter`        | —                | reserved for the distributed mode's dead letters; not emitted yet |
 */
export const PLATFORM_SOURCE = 'meridian://platform';
export const PLATFORM_HEALTH_ACTOR: Actor = { kind: 'system', id: 'platform-health' };
export const DEFAULT_PLATFORM_HEALTH_CHECKPOINT = 'platform-health';
export const PLATFORM_EVENT_TYPES = {
  chainHalted: 'meridian.chain.halted',
  decisionFailed: 'meridian.decision.failed',
  projectionLagging: 'meridian.projection.lagging',
  deadLetter: 'meridian.dead-letter',
} as const;
export const DEFAULT_LAG_THRESHOLD_EVENTS = 10_000;
export const DEFAULT_LAG_CHECK_INTERVAL_MS = 10_000;

/** Failures that only say "this chain is halted": the chain's one `meridian.chain.halted` covers them. */
const CHAIN_FAILURE_CODES: ReadonlySet<string> = new Set(['CHAIN_HALTED', 'CHAIN_BUDGET_EXCEEDED']);
/** How many platform-rooted chains and halted chains are remembered (older ones are long finished). */
const MAX_REMEMBERED = 10_000;
const REBUILD_PAGE_SIZE = 1000;

export type ChainHaltedPlatformData = ChainHaltedData;

export interface DecisionFailedPlatformData {
  readonly agentId: string;
  readonly decisionId: string;
  readonly correlationId: string;
  /** `code` is `DECISION_FAILED` when the failure carried none. */
  readonly error: { readonly code: string; readonly message: string };
  /** What the agent was deciding on: kind and ref, plus the event's type and subject for an event. */
  readonly input: { readonly kind: string; readonly ref: string; readonly type?: string; readonly subject?: string };
  readonly engine: { readonly type: string; readonly provider?: string; readonly model?: string };
  readonly definitionVersion: number;
  readonly failedAt: string;
}

export interface ProjectionLaggingPlatformData {
  readonly projection: string;
  readonly lag: number;
  readonly threshold: number;
  readonly checkpoint?: number;
  readonly head?: number;
}

/** One projection's distance from the head of the store. */
export interface ProjectionLagSample {
  readonly projection: string;
  readonly lag: number;
  readonly checkpoint?: number;
  readonly head?: number;
}

export interface ProjectionLagWatch {
  /** The projections' current lag (for instance from ProjectionManager.status()). */
  readonly sample: () => Promise<readonly ProjectionLagSample[]>;
  /** Lag (events) above which a projection is reported. Default 10,000. */
  readonly thresholdEvents?: number;
  /** Default 10 s. */
  readonly intervalMs?: number;
  /** Projections serve every tenant; their reports go to this one. Default `default`. */
  readonly tenantId?: string;
}

export interface PlatformHealthReporterOptions {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  /** The ingestion path (IngestEventsService): deduplicates by (source, id), so a re-delivered report is a no-op. */
  readonly inbound: InboundEventsPort;
  /** Default `platform-health`. */
  readonly checkpointName?: string;
  readonly batchSize?: number;
  /** Clock (ISO-8601) for receive times and lag reports. */
  readonly now?: () => string;
  readonly logger?: RuntimeLogger;
  /** Batch failures (the subscription retries the batch). */
  readonly onError?: (error: unknown) => void;
  /** Watch projection lag periodically while started. */
  readonly projectionLag?: ProjectionLagWatch;
}

/** Insertion-ordered set that forgets its oldest entries beyond a bound. */
class BoundedSet {
  private readonly items = new Set<string>();

  constructor(private readonly max: number) {}

  add(item: string): void {
    this.items.delete(item);
    this.items.add(item);
    if (this.items.size > this.max) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
  }

  has(item: string): boolean {
    return this.items.has(item);
  }

  clear(): void {
    this.items.clear();
  }
}

interface Waiter {
  readonly position: GlobalPosition;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Report {
  readonly tenantId: string;
  readonly event: CloudEvent;
  readonly cause: RecordedEvent;
}

const key = (tenantId: string, id: string) => `${tenantId}\n${id}`;

/**
 * Follows the event store from its own checkpoint (like the AgentRouter) and turns `chain.halted`
 * and `agent.decision-failed` into platform events, ingested through `inbound`.
 *
 * Loop guards — a monitor reacting to platform events must not feed them:
 * - A halted chain is reported once, by its `chain.halted` (itself written once per chain). The
 *   decisions refused afterwards (`CHAIN_HALTED`, and the `CHAIN_BUDGET_EXCEEDED` that halted it)
 *   are not reported again.
 * - A failed decision on a `meridian.*` event is not reported: a monitor failing on a report would
 *   otherwise report its own failure to itself, forever.
 * - Nothing happening in a chain that a platform event started (the monitor's decision, the
 *   messages it sent, what their recipients did) is reported either, for the same reason; such
 *   failures are logged as warnings instead.
 *
 * Delivery is at least once; reports have ids derived from what they report
 * (`chain.halted:<correlationId>`, `decision.failed:<decisionId>`), so ingesting one again is a
 * no-op. The checkpoint is saved after each batch's reports are stored.
 */
export class PlatformHealthReporter {
  private readonly checkpointName: string;
  private readonly now: () => string;
  private readonly logger: RuntimeLogger;
  /** `tenant\nstoredEventId` of platform events: the correlation ids of the chains they start. */
  private readonly platformRoots = new BoundedSet(MAX_REMEMBERED);
  /** `tenant\ncorrelationId` of chains known to be halted. */
  private readonly haltedChains = new BoundedSet(MAX_REMEMBERED);
  /** Projections currently reported as lagging (reported again only after recovering). */
  private readonly lagging = new Set<string>();
  private readonly waiters: Waiter[] = [];
  private subscription: Subscription | null = null;
  private starting: Promise<void> | null = null;
  private processed: GlobalPosition = 0;
  private lagTimer: NodeJS.Timeout | null = null;
  private lagCheck: Promise<void> | null = null;

  constructor(private readonly options: PlatformHealthReporterOptions) {
    this.checkpointName = options.checkpointName ?? DEFAULT_PLATFORM_HEALTH_CHECKPOINT;
    this.now = options.now ?? (() => new Date().toISOString());
    this.logger = options.logger ?? SILENT_RUNTIME_LOGGER;
  }

  /** Global position up to which every event has been looked at (and its report stored). */
  get position(): GlobalPosition {
    return this.processed;
  }

  get running(): boolean {
    return this.subscription !== null;
  }

  /** Loads the checkpoint, recalls the halted and platform-started chains before it, then subscribes. */
  start(): Promise<void> {
    this.starting ??= this.doStart().catch((error: unknown) => {
      this.starting = null;
      throw error;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    if (this.lagTimer !== null) clearInterval(this.lagTimer);
    this.lagTimer = null;
    await this.lagCheck?.catch(() => undefined);
    const starting = this.starting;
    if (starting !== null) {
      await starting.catch(() => undefined);
      const subscription = this.subscription;
      this.subscription = null;
      this.starting = null;
      if (subscription !== null) await subscription.stop();
    }
    for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`PlatformHealthReporter stopped before reaching position ${waiter.position}`));
  }

  /** Resolves once every event up to `position` has been looked at and its report is stored. */
  waitUntilProcessed(position: GlobalPosition): Promise<void> {
    if (this.processed >= position) return Promise.resolve();
    if (this.starting === null) return Promise.reject(new Error(`PlatformHealthReporter is not running: position ${position} is not reached`));
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ position, resolve, reject });
    });
  }

  /**
   * Reports a projection that lags: `meridian.projection.lagging` with the projection as subject.
   * Callers decide when (see `checkProjectionLag` for "once per crossing of the threshold").
   */
  async reportProjectionLag(report: { projection: string; lag: number; threshold?: number; checkpoint?: number; head?: number; tenantId?: string }): Promise<void> {
    const data: ProjectionLaggingPlatformData = {
      projection: report.projection,
      lag: report.lag,
      threshold: report.threshold ?? this.options.projectionLag?.thresholdEvents ?? DEFAULT_LAG_THRESHOLD_EVENTS,
      ...(report.checkpoint !== undefined && { checkpoint: report.checkpoint }),
      ...(report.head !== undefined && { head: report.head }),
    };
    const time = this.now();
    // Each crossing is a new incident: a fresh id, not one derived from the projection.
    const event = platformEvent(`projection.lagging:${report.projection}:${uuidv4()}`, PLATFORM_EVENT_TYPES.projectionLagging, report.projection, time, data);
    const tenantId = report.tenantId ?? this.options.projectionLag?.tenantId ?? DEFAULT_TENANT_ID;
    await this.options.inbound.ingest([event], { tenantId, actor: PLATFORM_HEALTH_ACTOR, requestId: event.id, receivedAt: time });
    this.logger.warn({ projection: report.projection, lag: report.lag, threshold: data.threshold }, 'projection lagging');
  }

  /**
   * Samples the projections' lag once and reports each projection whose lag went above the
   * threshold since the last sample; one that falls back to the threshold or below may be reported
   * again on its next crossing.
   */
  async checkProjectionLag(): Promise<void> {
    const watch = this.options.projectionLag;
    if (watch === undefined) return;
    const threshold = watch.thresholdEvents ?? DEFAULT_LAG_THRESHOLD_EVENTS;
    for (const sample of await watch.sample()) {
      if (sample.lag <= threshold) {
        this.lagging.delete(sample.projection);
        continue;
      }
      if (this.lagging.has(sample.projection)) continue;
      await this.reportProjectionLag({ projection: sample.projection, lag: sample.lag, threshold, checkpoint: sample.checkpoint, head: sample.head });
      this.lagging.add(sample.projection);
    }
  }

  private async doStart(): Promise<void> {
    const checkpoint = await this.options.checkpoints.load(this.checkpointName);
    this.platformRoots.clear();
    this.haltedChains.clear();
    await this.recallUpTo(checkpoint);
    this.processed = checkpoint;
    this.subscription = this.options.store.subscribe(
      {
        onEvents: (events) => this.handleBatch(events),
        onCaughtUp: (position) => this.advanceTo(position),
        onError: (error) => this.report(error),
      },
      { after: checkpoint, batchSize: this.options.batchSize, filter: { types: ['chain.halted', 'agent.decision-failed', 'meridian.*'] } },
    );
    const watch = this.options.projectionLag;
    if (watch !== undefined) {
      this.lagTimer = setInterval(() => this.scheduleLagCheck(), watch.intervalMs ?? DEFAULT_LAG_CHECK_INTERVAL_MS);
      this.lagTimer.unref();
    }
  }

  private scheduleLagCheck(): void {
    // A slow sample (a busy read-model database) is not stacked with the next one.
    if (this.lagCheck !== null) return;
    this.lagCheck = this.checkProjectionLag()
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        this.lagCheck = null;
      });
  }

  /** Reads back, up to the checkpoint, which chains were halted and which were started by platform events. */
  private async recallUpTo(checkpoint: GlobalPosition): Promise<void> {
    let after = 0;
    while (after < checkpoint) {
      const page = await this.options.store.readAll({ after, limit: REBUILD_PAGE_SIZE, filter: { types: ['chain.halted', 'meridian.*'] } });
      for (const event of page) {
        if (event.position > checkpoint) return;
        this.observe(event);
      }
      if (page.length < REBUILD_PAGE_SIZE) return;
      after = page[page.length - 1].position;
    }
  }

  /** Keeps track of platform events and halts; returns the stream's tenant and category. */
  private observe(event: RecordedEvent): { tenantId: string; category: string } | null {
    const parsed = parseStreamName(event.streamName);
    if (parsed === null) return null;
    if ((parsed.category === 'entity' || parsed.category === 'source') && event.type.startsWith('meridian.') && cloudEventViewOf(event)?.source === PLATFORM_SOURCE) {
      this.platformRoots.add(key(parsed.tenantId, event.eventId));
    } else if (parsed.category === 'chain' && event.type === 'chain.halted') {
      this.haltedChains.add(key(parsed.tenantId, (event.data as ChainHaltedData).correlationId));
    }
    return parsed;
  }

  private async handleBatch(events: readonly RecordedEvent[]): Promise<void> {
    const fresh = events.filter((event) => event.position > this.processed);
    if (fresh.length === 0) return;
    const reports: Report[] = [];
    for (const event of fresh) {
      const parsed = this.observe(event);
      if (parsed === null) continue;
      if (parsed.category === 'chain' && event.type === 'chain.halted') {
        const report = this.chainHalted(event, parsed.tenantId);
        if (report !== null) reports.push(report);
      } else if (parsed.category === 'agent' && event.type === 'agent.decision-failed') {
        const report = await this.decisionFailed(event, parsed.tenantId);
        if (report !== null) reports.push(report);
      }
    }
    await this.ingest(reports);
    this.advanceTo(fresh[fresh.length - 1].position);
    try {
      await this.options.checkpoints.save(this.checkpointName, this.processed);
    } catch (error) {
      // The reports are stored; a lagging checkpoint only means reporting again, which is a no-op.
      this.report(error);
    }
  }

  private chainHalted(event: RecordedEvent, tenantId: string): Report | null {
    const data = event.data as ChainHaltedData;
    if (this.platformRoots.has(key(tenantId, data.correlationId))) {
      this.logger.warn({ tenantId, correlationId: data.correlationId, reason: data.reason, agentId: data.agentId }, 'chain started by a platform event halted; not reported as a platform event');
      return null;
    }
    const payload: ChainHaltedPlatformData = { ...data };
    return { tenantId, cause: event, event: platformEvent(`chain.halted:${data.correlationId}`, PLATFORM_EVENT_TYPES.chainHalted, data.agentId, data.haltedAt, payload) };
  }

  private async decisionFailed(event: RecordedEvent, tenantId: string): Promise<Report | null> {
    const data = event.data as AgentDecisionFailed['data'];
    const payload = isRecord(data.input.payload) ? data.input.payload : {};
    const inputType = typeof payload.type === 'string' ? payload.type : undefined;
    const inputSubject = typeof payload.subject === 'string' ? payload.subject : undefined;
    const code = data.error.code ?? 'DECISION_FAILED';
    if (CHAIN_FAILURE_CODES.has(code) && (await this.isHalted(tenantId, data.correlationId))) return null;
    if (data.input.kind === 'event' && inputType?.startsWith('meridian.') === true) {
      this.logger.warn({ tenantId, agentId: data.agentId, decisionId: data.decisionId, code, inputType }, 'decision on a platform event failed; not reported as a platform event');
      return null;
    }
    if (this.platformRoots.has(key(tenantId, data.correlationId))) {
      this.logger.warn({ tenantId, agentId: data.agentId, decisionId: data.decisionId, code, correlationId: data.correlationId }, 'decision in a chain started by a platform event failed; not reported as a platform event');
      return null;
    }
    const report: DecisionFailedPlatformData = {
      agentId: data.agentId,
      decisionId: data.decisionId,
      correlationId: data.correlationId,
      error: { code, message: data.error.message },
      input: { kind: data.input.kind, ref: data.input.ref, ...(inputType !== undefined && { type: inputType }), ...(inputSubject !== undefined && { subject: inputSubject }) },
      engine: { ...data.engine },
      definitionVersion: data.definitionVersion,
      failedAt: event.metadata.occurredAt,
    };
    return { tenantId, cause: event, event: platformEvent(`decision.failed:${data.decisionId}`, PLATFORM_EVENT_TYPES.decisionFailed, data.agentId, event.metadata.occurredAt, report) };
  }

  /** Halted as far as this reporter knows, or as the chain's stream says (after a restart, or beyond the bound). */
  private async isHalted(tenantId: string, correlationId: string): Promise<boolean> {
    if (this.haltedChains.has(key(tenantId, correlationId))) return true;
    const events = await this.options.store.readStream(streamName('chain', correlationId, tenantId));
    const halted = events.some((event) => event.type === 'chain.halted');
    if (halted) this.haltedChains.add(key(tenantId, correlationId));
    return halted;
  }

  /** One ingestion per tenant, in event order. */
  private async ingest(reports: readonly Report[]): Promise<void> {
    const byTenant = new Map<string, Report[]>();
    for (const report of reports) byTenant.set(report.tenantId, [...(byTenant.get(report.tenantId) ?? []), report]);
    for (const [tenantId, items] of byTenant) {
      const first = items[0].cause;
      await this.options.inbound.ingest(
        items.map((item) => item.event),
        {
          tenantId,
          actor: PLATFORM_HEALTH_ACTOR,
          requestId: first.eventId,
          receivedAt: this.now(),
          ...(first.metadata.traceparent !== undefined && { traceparent: first.metadata.traceparent }),
        },
      );
      for (const item of items) this.logger.info({ tenantId, type: item.event.type, subject: item.event.subject, id: item.event.id }, 'platform event reported');
    }
  }

  private advanceTo(position: GlobalPosition): void {
    if (position <= this.processed) return;
    this.processed = position;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i];
      if (waiter.position <= position) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private report(error: unknown): void {
    try {
      if (this.options.onError !== undefined) this.options.onError(error);
      else this.logger.error({ err: error }, 'platform health reporter failed; retrying');
    } catch {
      // A failing reporter must not stop reporting.
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function platformEvent(id: string, type: string, subject: string, time: string, data: unknown): CloudEvent {
  return { specversion: '1.0', id, source: PLATFORM_SOURCE, type, subject, time, datacontenttype: 'application/json', data };
}
