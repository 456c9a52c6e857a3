import type { Producer } from 'kafkajs';
import type { Client } from 'pg';
import { formatRate, progress } from './bench-report';
import { cpuBetween, cpuSnapshot, type CpuUsage } from './distributed-cpu';
import { projectionLag, type BenchDeployment } from './distributed-deployment';
import { eventMessage, INGESTED_TYPE, produceOpenLoop, sleep, UNROUTED_TYPE, wallNow } from './distributed-load';
import { PgActivitySampler, type ActivitySummary } from './distributed-pg-activity';
import type { ReactionWatcher, SeqTracker } from './distributed-reactions';
import { headPosition, stageBreakdown, StoredCounter, type StageBreakdown } from './distributed-stages';
import { percentile } from './ingest-http-load';

/**
 * One open-loop step against the running deployment: produce `rate × seconds` CloudEvents to
 * `<prefix>.inbound`, watch their answers on the gateway's WebSocket, wait for the backlog to
 * drain (bounded), then read the step's stage timings back from the event store. Two kinds:
 *
 * - `agents`: events the bench agents subscribe to; an event's answer is its agent's reaction.
 * - `ingest`: events no agent subscribes to; an event's answer is itself reaching the socket
 *   (Kafka → runtime → stored → Redis relay → gateway), the ingest path without any agent work.
 */

export type StepKind = 'agents' | 'ingest';

export interface StepSettings {
  readonly shards: number;
  readonly flushMs: number;
  readonly maxInFlight: number;
  readonly drainSeconds: number;
  /** Sending stops at seconds × this (+ 1 s) even if events are left. */
  readonly deadlineFactor: number;
}

export interface MeridianStep {
  readonly kind: StepKind;
  readonly targetRate: number;
  readonly planned: number;
  readonly sent: number;
  readonly produceFailed: number;
  readonly produceErrors: Record<string, number>;
  /** Events sent per second while sending. */
  readonly sentPerSecond: number;
  /** The producer's worst delay behind its schedule, ms. */
  readonly producerLagMs: number;
  readonly produceAckP99: number;
  /** Answers seen on the WebSocket per second: first send → last answer. */
  readonly visiblePerSecond: number;
  readonly answered: number;
  /** Sent → answer seen on the WebSocket, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** The answer stored → seen on the WebSocket. */
  readonly visibleAfterStoredP50: number;
  readonly visibleAfterStoredP99: number;
  readonly backlogAtEnd: number;
  readonly drainMs: number | null;
  readonly projectedMs: number | null;
  readonly stages: StageBreakdown | null;
  /** While sending, and from the start of the step until drained. */
  readonly cpuSending: CpuUsage;
  readonly cpuTotal: CpuUsage;
  /** The apps' PostgreSQL sessions while the step ran (until drained). */
  readonly pgActivity: ActivitySummary;
  /** pg_stat_database over the step (until drained): the whole database, so any other client shows too. */
  readonly database: DatabaseCounters;
  readonly keptUp: boolean;
  readonly verdict: string;
}

export class MeridianContext {
  constructor(
    readonly bench: BenchDeployment,
    readonly producer: Producer,
    readonly pg: Client,
    /** Agents' reactions, by event seq. */
    readonly reactions: SeqTracker,
    /** Unrouted events seen on the socket, by event seq. */
    readonly unrouted: SeqTracker,
    readonly watcher: ReactionWatcher,
    readonly runId: string,
    readonly settings: StepSettings,
  ) {}

  get topic(): string {
    return `${this.bench.deployment.topicPrefix}.inbound`;
  }

  fatal(): string | null {
    if (this.watcher.fatal) return this.watcher.fatal;
    for (const app of [this.bench.gateway, this.bench.runtime, this.bench.projector]) {
      if (app.child.exitCode !== null || app.child.signalCode !== null) return `the ${app.app} exited (${app.child.exitCode ?? app.child.signalCode}); last output:\n${app.output().slice(-3000)}`;
    }
    return null;
  }
}

export interface DatabaseCounters {
  /** Transactions committed: every statement outside a transaction block is one. */
  readonly commits: number;
  /** Rows read by scans, rows returned to clients. */
  readonly rowsScanned: number;
  readonly rowsFetched: number;
  readonly rowsInserted: number;
}

async function databaseCounters(pg: Client): Promise<DatabaseCounters> {
  const { rows } = await pg.query<{ commits: string; scanned: string; fetched: string; inserted: string }>(
    `select xact_commit as commits, tup_returned as scanned, tup_fetched as fetched, tup_inserted as inserted from pg_stat_database where datname = current_database()`,
  );
  const row = rows[0];
  return { commits: Number(row?.commits ?? 0), rowsScanned: Number(row?.scanned ?? 0), rowsFetched: Number(row?.fetched ?? 0), rowsInserted: Number(row?.inserted ?? 0) };
}

const ms = (value: number | null | undefined): string => (value !== null && value !== undefined && Number.isFinite(value) ? value.toFixed(1) : '-');
const pct = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(0)}%` : '-');

/** Waits until `done()` or `limitMs`; resolves with the ms it took, or null. Throws as soon as `fatal()` says why. */
export async function waitUntil(done: () => boolean | Promise<boolean>, limitMs: number, fatal: () => string | null, everyMs = 25): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    const reason = fatal();
    if (reason) throw new Error(reason);
    if (await done()) return performance.now() - start;
    await sleep(everyMs);
  }
  return (await done()) ? performance.now() - start : null;
}

/**
 * ANALYZE of every table of the schema. The deployment's tables are minutes old; autovacuum has
 * not analysed them yet, and without statistics PostgreSQL plans a filtered subscription read
 * (`position > $1 and type = any(...) order by position limit n`) as a bitmap scan of every row
 * past the checkpoint plus a sort, instead of walking the primary key: ten times the work for a
 * subscription 40,000 events behind. A long-lived table has statistics; each step starts with them.
 */
async function analyzeSchema(pg: Client, schema: string): Promise<void> {
  const { rows } = await pg.query<{ name: string }>(`select tablename as name from pg_tables where schemaname = $1`, [schema]);
  for (const { name } of rows) await pg.query(`analyze "${schema}"."${name.replace(/"/g, '""')}"`);
}

export async function runStep(ctx: MeridianContext, kind: StepKind, fromSeq: number, rate: number, seconds: number, label: string): Promise<MeridianStep> {
  const planned = Math.max(1, Math.round(rate * seconds));
  await analyzeSchema(ctx.pg, ctx.bench.deployment.schema);
  progress(`${label}: ${planned} events at ${formatRate(rate)}/s to ${ctx.topic}`);
  const headBefore = await headPosition(ctx.pg, ctx.bench.deployment.schema);
  const activity = new PgActivitySampler(ctx.pg, ctx.bench.roles);
  activity.start();
  try {
    return await measureStep(ctx, kind, fromSeq, rate, seconds, label, planned, headBefore, activity);
  } finally {
    await activity.stop();
  }
}

async function measureStep(
  ctx: MeridianContext,
  kind: StepKind,
  fromSeq: number,
  rate: number,
  seconds: number,
  label: string,
  planned: number,
  headBefore: number,
  activity: PgActivitySampler,
): Promise<MeridianStep> {
  const { settings } = ctx;
  const type = kind === 'agents' ? INGESTED_TYPE : UNROUTED_TYPE;
  const tracker = kind === 'agents' ? ctx.reactions : ctx.unrouted;
  const schema = ctx.bench.deployment.schema;
  const counter = new StoredCounter(ctx.pg, schema, headBefore, type);
  const databaseStart = await databaseCounters(ctx.pg);
  const cpuStart = cpuSnapshot(ctx.bench.roles);
  const answeredBefore = tracker.answered;
  const sent = await produceOpenLoop({
    producer: ctx.producer,
    topic: ctx.topic,
    rate,
    events: planned,
    firstSeq: fromSeq,
    // Ids are deduplicated by (source, id) on ingest: each kind numbers its events in its own id space.
    build: (seq, at) => eventMessage(kind === 'agents' ? ctx.runId : `${ctx.runId}-unrouted`, seq, settings.shards, at, type),
    flushMs: settings.flushMs,
    maxInFlight: settings.maxInFlight,
    deadlineMs: seconds * 1000 * settings.deadlineFactor + 1000,
    onSent: (from, count, at) => tracker.markSent(from, count, at),
    onTick: (elapsedMs, sentSoFar) => {
      void counter.poll().then(
        (stored) => {
          const answered = tracker.answered - answeredBefore;
          progress(`  ${label}: ${(elapsedMs / 1000).toFixed(0)} s, ${sentSoFar} sent, ~${stored} stored, ${answered} ${kind === 'agents' ? 'reactions' : 'events'} seen on the socket (${sentSoFar - answered} pending)`);
        },
        () => undefined,
      );
    },
    shouldStop: () => ctx.fatal() !== null,
  });
  const cpuSending = cpuBetween(cpuStart, cpuSnapshot(ctx.bench.roles));
  const toSeq = fromSeq + sent.sent;
  const backlogAtEnd = tracker.pendingIn(fromSeq, toSeq);
  progress(`  ${label}: sending done (${sent.sent}/${planned} sent), ${backlogAtEnd} answers pending; draining (at most ${settings.drainSeconds} s)`);
  const drainMs = await waitUntil(() => tracker.pendingIn(fromSeq, toSeq) === 0, settings.drainSeconds * 1000, () => ctx.fatal());
  const cpuTotal = cpuBetween(cpuStart, cpuSnapshot(ctx.bench.roles));
  const pgActivity = await activity.stop();
  const databaseEnd = await databaseCounters(ctx.pg);
  const database: DatabaseCounters = {
    commits: databaseEnd.commits - databaseStart.commits,
    rowsScanned: databaseEnd.rowsScanned - databaseStart.rowsScanned,
    rowsFetched: databaseEnd.rowsFetched - databaseStart.rowsFetched,
    rowsInserted: databaseEnd.rowsInserted - databaseStart.rowsInserted,
  };
  const sendEnd = sent.sendEndedAt;
  const projectedAfter = await waitUntil(async () => (await projectionLag(ctx.bench)) === 0, Math.max(3000, settings.drainSeconds * 1000 - (wallNow() - sendEnd)), () => ctx.fatal(), 100);
  const projectedMs = projectedAfter === null ? null : wallNow() - sendEnd;
  const stages = await stageBreakdown(ctx.pg, schema, headBefore, type);
  progress(`  ${label}: stage breakdown read from the store in ${stages.queryMs.toFixed(0)} ms (${stages.eventsWritten} events written by the step)`);

  const stats = tracker.stats(fromSeq, toSeq);
  const sendSeconds = Math.max(0.001, (sent.sendEndedAt - sent.startedAt) / 1000);
  const visiblePerSecond = (stats.answered / Math.max(1, stats.lastAnsweredAt - stats.firstSentAt)) * 1000;
  const reasons: string[] = [];
  if (sent.failed > 0) reasons.push(`${sent.failed} events not accepted by the broker`);
  if (sent.sent < planned) reasons.push(`${planned - sent.sent} events not sent by the step deadline`);
  if (backlogAtEnd > rate) reasons.push(`backlog ${backlogAtEnd} > 1 s of work when sending stopped`);
  if (drainMs === null) reasons.push(`${tracker.pendingIn(fromSeq, toSeq)} answers missing ${settings.drainSeconds} s after sending`);
  if (visiblePerSecond < 0.9 * rate) reasons.push(`${formatRate(visiblePerSecond)} answers/s of ${formatRate(rate)}/s`);
  const keptUp = reasons.length === 0;
  const step: MeridianStep = {
    kind,
    targetRate: rate,
    planned,
    sent: sent.sent,
    produceFailed: sent.failed,
    produceErrors: sent.errors,
    sentPerSecond: sent.sent / sendSeconds,
    producerLagMs: sent.maxLagMs,
    produceAckP99: percentile(sent.ackMs, 99),
    visiblePerSecond,
    answered: stats.answered,
    p50: percentile(stats.latencyMs, 50),
    p99: percentile(stats.latencyMs, 99),
    max: percentile(stats.latencyMs, 100),
    visibleAfterStoredP50: percentile(stats.afterStoredMs, 50),
    visibleAfterStoredP99: percentile(stats.afterStoredMs, 99),
    backlogAtEnd,
    drainMs,
    projectedMs,
    stages,
    cpuSending,
    cpuTotal,
    pgActivity,
    database,
    keptUp,
    verdict: keptUp ? 'kept up' : reasons.join('; '),
  };
  for (const [what, count] of Object.entries(sent.errors)) progress(`  ${label}: ${count}× ${what}`);
  const c = cpuSending.percent;
  progress(
    `  ${label}: sent ${formatRate(step.sentPerSecond)}/s, stored ${formatRate(stages.storedPerSecond)}/s, answers ${formatRate(visiblePerSecond)}/s (${stats.answered}/${sent.sent}), ` +
      `sent → seen on the socket p50/p99 ${ms(step.p50)}/${ms(step.p99)} ms, drained ${drainMs === null ? 'NO' : `in ${ms(drainMs)} ms`}; ` +
      `CPU runtime ${pct(c.runtime)} gateway ${pct(c.gateway)} projector ${pct(c.projector)} postgres ${pct(c.postgres)} kafka ${pct(c.kafka)} bench ${pct(c.bench)} others ${pct(cpuSending.othersPercent)} — ${step.verdict}`,
  );
  progress(`  ${label}: stages p50/p99 ms: ${stages.stages.filter((s) => s.count > 0).map((s) => `${s.stage} ${ms(s.p50)}/${ms(s.p99)}`).join(', ')}`);
  return step;
}

export interface SerialProbe {
  readonly events: number;
  readonly answered: number;
  /** Decisions per second of the one agent, first reaction stored → last. */
  readonly decisionsPerSecond: number;
  /** Time between two consecutive reactions of the agent (one decision each), ms. */
  readonly gapP50: number;
  readonly gapP99: number;
  /** Sent → the first and the last reaction seen on the socket, ms. */
  readonly firstMs: number;
  readonly lastMs: number;
}

/**
 * How fast one agent decides: an agent takes its inputs one at a time (each decision is recorded,
 * then its actions run, before the next input), so its own rate bounds what any number of events
 * for it can get. One agent subscribed to its own type gets `events` events in one produce
 * request; its reactions' stored times give the time per decision.
 */
export async function runSerialProbe(ctx: MeridianContext, fromSeq: number, events: number, type: string): Promise<SerialProbe> {
  const sentAt = wallNow();
  const messages = Array.from({ length: events }, (_, i) => eventMessage(ctx.runId, fromSeq + i, 1, sentAt, type));
  ctx.reactions.markSent(fromSeq, events, sentAt);
  progress(`serial probe: ${events} events for one agent in one produce request`);
  await ctx.producer.send({ topic: ctx.topic, messages });
  await waitUntil(() => ctx.reactions.pendingIn(fromSeq, fromSeq + events) === 0, Math.max(30_000, events * 200), () => ctx.fatal(), 50);
  const stored: number[] = [];
  const seen: number[] = [];
  for (let seq = fromSeq; seq < fromSeq + events; seq++) {
    if (ctx.reactions.storedAt[seq] !== 0) stored.push(ctx.reactions.storedAt[seq] as number);
    if (ctx.reactions.answeredAt[seq] !== 0) seen.push((ctx.reactions.answeredAt[seq] as number) - sentAt);
  }
  stored.sort((a, b) => a - b);
  seen.sort((a, b) => a - b);
  const gaps = stored.slice(1).map((t, i) => t - (stored[i] as number));
  const span = (stored[stored.length - 1] ?? 0) - (stored[0] ?? 0);
  const probe: SerialProbe = {
    events,
    answered: seen.length,
    decisionsPerSecond: span > 0 ? ((stored.length - 1) / span) * 1000 : Number.NaN,
    gapP50: percentile(gaps, 50),
    gapP99: percentile(gaps, 99),
    firstMs: seen[0] ?? Number.NaN,
    lastMs: seen[seen.length - 1] ?? Number.NaN,
  };
  progress(
    `serial probe: ${probe.answered}/${events} reactions; one agent decides ${probe.decisionsPerSecond.toFixed(0)} inputs/s ` +
      `(${ms(probe.gapP50)} ms between decisions at p50, ${ms(probe.gapP99)} at p99); last reaction ${ms(probe.lastMs)} ms after sending`,
  );
  return probe;
}

export interface IdleMeasure {
  readonly seconds: number;
  readonly cpu: CpuUsage;
  readonly transactionsPerSecond: number;
  readonly rowsScannedPerSecond: number;
  readonly pgActivity: ActivitySummary;
}

/** The deployment with nothing to do: what it costs just to be up (polls, heartbeats, timers). */
export async function measureIdle(ctx: MeridianContext, seconds: number): Promise<IdleMeasure> {
  await analyzeSchema(ctx.pg, ctx.bench.deployment.schema);
  const activity = new PgActivitySampler(ctx.pg, ctx.bench.roles);
  activity.start();
  const databaseStart = await databaseCounters(ctx.pg);
  const cpuStart = cpuSnapshot(ctx.bench.roles);
  await sleep(seconds * 1000);
  const cpu = cpuBetween(cpuStart, cpuSnapshot(ctx.bench.roles));
  const databaseEnd = await databaseCounters(ctx.pg);
  const pgActivity = await activity.stop();
  const idle: IdleMeasure = {
    seconds,
    cpu,
    transactionsPerSecond: (databaseEnd.commits - databaseStart.commits) / seconds,
    rowsScannedPerSecond: (databaseEnd.rowsScanned - databaseStart.rowsScanned) / seconds,
    pgActivity,
  };
  const c = cpu.percent;
  progress(
    `idle deployment (${seconds} s, no events): CPU runtime ${pct(c.runtime)} gateway ${pct(c.gateway)} projector ${pct(c.projector)} postgres ${pct(c.postgres)} kafka ${pct(c.kafka)} redis ${pct(c.redis)}; ` +
      `${idle.transactionsPerSecond.toFixed(0)} PostgreSQL transactions/s (whole database)`,
  );
  return idle;
}
