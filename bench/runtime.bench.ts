/**
 * End-to-end runtime throughput and agent reaction latency (DESIGN.md §9: ≥10,000 events/s
 * ingest → stored → routed → decided by a rules agent → projected, on a 2-core machine; reaction
 * p99 < 100 ms from ingest to the reaction being visible).
 *
 *   npm run bench:runtime                                  # 500 … 10,000 events/s, 10 s a step
 *   BENCH_SCALE=3 npm run bench:runtime                    # steps 3× as long
 *   BENCH_RATES=1000,3000 BENCH_STEP_SECONDS=20 npm run bench:runtime
 *
 * The standalone server runs as its own OS process on a fresh data directory (SQLite, default
 * settings). 100 rules agents (BENCH_AGENTS) with overlapping subscriptions (`order.*`,
 * `order.placed`, `order.paid`, `payment.*`, JSON Logic filters on amount and currency) each emit
 * `reaction.<i>` with the ingested event's id for every event they get. A WebSocket client on
 * `/ws` watches the reactions; an event's reaction latency is from its POST being sent to its first
 * (and its last) reaction arriving. The subscriptions are compiled in the benchmark with the
 * runtime's own index, so the number of reactions each event must get is known exactly.
 *
 * Load is open loop: every BENCH_FLUSH_MS (10) a producer POSTs what accumulated at the step's
 * rate as one JSON array (so batches grow with the rate), at most 64 requests in flight; what is
 * not sent within 1.5× the step's duration is dropped. Each step ends by waiting for the backlog
 * to drain (at most BENCH_DRAIN_SECONDS, 15) and for the read models to catch up; a step the
 * runtime did not keep up with (a failed request, events dropped, 202s below 90% of the rate,
 * more than one second of work still queued when sending stopped, not drained, read models
 * behind) stops the escalation.
 *
 * Peer in the same run: the same server with no agents, the same rates, the client on the
 * `events` channel, latency from POST to the ingested event itself arriving. The runs are
 * sequential, so they never compete for the CPU. Results also go to
 * node_modules/.cache/meridian/bench-runtime.json.
 *
 * The agents run's client subscribes to `events:reaction.` rather than `events`: it then parses
 * only what it measures, and its own CPU (on the same two cores) stays out of the server's way.
 *
 * On a shared machine other processes take CPU from the server: each run first waits (at most
 * BENCH_QUIET_WAIT_SECONDS, 30) for them to settle, and every step reports the CPU they used
 * ("others CPU") next to the server's CPU time per event, which depends little on that
 * contention. The data directory is under the OS temp dir: TMPDIR=/dev/shm takes the disk's fsync
 * out of the picture.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket, { type RawData } from 'ws';
import { killHard, spawnStandalone } from '../test/e2e/support/standalone-process';
import { formatRate, positiveNumber, progress, rateList, table, warnLogSummary } from './support/bench-report';
import { percentile } from './support/ingest-http-load';
import { formatMiB, RssSampler } from './support/ingest-process-memory';
import { ReactionTracker, type SpanStats, type TrackMode } from './support/runtime-reactions';
import { benchAgents, FanOut, workloadEvent, type BenchAgent } from './support/runtime-workload';

const SCALE = positiveNumber(process.env.BENCH_SCALE, 1);
const RATES = rateList(process.env.BENCH_RATES, [500, 1000, 2000, 5000, 10_000]);
const STEP_SECONDS = positiveNumber(process.env.BENCH_STEP_SECONDS, 10) * SCALE;
const AGENT_COUNT = Math.round(positiveNumber(process.env.BENCH_AGENTS, 100));
const FLUSH_MS = positiveNumber(process.env.BENCH_FLUSH_MS, 10);
const DRAIN_SECONDS = positiveNumber(process.env.BENCH_DRAIN_SECONDS, 15);
const WARMUP_SECONDS = 3;
const MAX_IN_FLIGHT = 64;
/** A step sends for at most this many times its planned duration (plus 1 s). */
const STEP_DEADLINE_FACTOR = 1.5;
/** CPU (% of one core) other processes may use before a run waits for them, and how long at most. */
const QUIET_CPU_PERCENT = 30;
const QUIET_WAIT_SECONDS = positiveNumber(process.env.BENCH_QUIET_WAIT_SECONDS, 30);
const API_KEY = `bench-admin-${randomUUID()}`;
const TARGET_RATE = 10_000;
const TARGET_P99_MS = 100;
const RESULT_FILE = join(__dirname, '..', 'node_modules', '.cache', 'meridian', 'bench-runtime.json');

type RunKind = 'agents' | 'baseline';

interface StepResult {
  readonly targetRate: number;
  readonly batchSize: number;
  /** Events built for the step, and those sent before its deadline. */
  readonly planned: number;
  readonly events: number;
  readonly acked: number;
  readonly errors: Record<string, number>;
  /** 202'd events per second, first send to last 202. */
  readonly ingestRate: number;
  /** Answers (reactions, or the ingested events in the baseline) that arrived per second while sending. */
  readonly answersPerSecond: number;
  /** Decisions the agents read model counted for this step (agents run). */
  readonly decisionsProjected: number | null;
  readonly expectedAnswers: number;
  readonly seenAnswers: number;
  readonly avgFanOut: number;
  readonly firstP50: number;
  readonly firstP99: number;
  readonly allP50: number;
  readonly allP99: number;
  readonly allMax: number;
  /** p99 of the POSTs' own latency (sent → 202), and of the last answer counted from the 202. */
  readonly ackP99: number;
  readonly allAfterAckP50: number;
  readonly allAfterAckP99: number;
  /** Answers still missing when sending stopped, and after the drain. */
  readonly backlogAtEnd: number;
  readonly backlogAfterDrain: number;
  /** ms from the end of sending until every answer was in (null: not within the drain limit). */
  readonly drainMs: number | null;
  /** ms from the end of sending until every projection's lag was 0 (null: not within the limit). */
  readonly projectedMs: number | null;
  readonly serverCpuPercent: number;
  readonly benchCpuPercent: number;
  /**
   * Server CPU time per event sent, from the start of the step until its answers and read models
   * were in: what an event costs end to end, largely independent of what else runs on the machine.
   */
  readonly serverCpuMsPerEvent: number;
  /** CPU used by every other process on the machine while sending, % of one core. */
  readonly othersCpuPercent: number;
  readonly keptUp: boolean;
  readonly verdict: string;
}

interface RunResult {
  readonly kind: RunKind;
  readonly channel: string;
  readonly agents: number;
  agentsCreatedMs: number | null;
  readonly steps: StepResult[];
  peakRssBytes: number;
  /** Other processes' CPU (% of one core) just before the run started. */
  othersCpuBefore: number;
  /** The server's warn/error log lines, counted by message. */
  serverLog: Record<string, number>;
  unexpectedAnswers: number;
  serverErrors: string[];
  failure: string | null;
}

/** Total CPU time (user + system) of a process, ms; null once it is gone. */
function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** CPU time the whole machine spent busy (every core, everything but idle and iowait), ms. */
function machineBusyMs(): number {
  const fields = (/^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? '').trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100;
}

/** CPU the rest of the machine uses (all but this process and `pid`), % of one core, over `ms`. */
async function othersCpuPercent(ms: number, pid?: number): Promise<number> {
  const machine = machineBusyMs();
  const own = process.cpuUsage();
  const server = pid ? (processCpuMs(pid) ?? 0) : 0;
  await sleep(ms);
  const ownUsage = process.cpuUsage(own);
  const ownMs = (ownUsage.user + ownUsage.system) / 1000;
  const serverMs = pid ? (processCpuMs(pid) ?? server) - server : 0;
  return Math.max(0, ((machineBusyMs() - machine - ownMs - serverMs) / ms) * 100);
}

/**
 * On a shared machine other work competes for the same cores: wait (bounded) until it is quiet
 * enough, and report what it was either way.
 */
async function waitForQuietMachine(label: string): Promise<number> {
  const start = now();
  let others = await othersCpuPercent(2000);
  while (others > QUIET_CPU_PERCENT && now() - start < QUIET_WAIT_SECONDS * 1000) {
    progress(`${label}: other processes use ${others.toFixed(0)}% CPU; waiting for the machine to be quieter (at most ${QUIET_WAIT_SECONDS} s)`);
    others = await othersCpuPercent(3000);
  }
  if (others > QUIET_CPU_PERCENT) progress(`${label}: going ahead with other processes using ${others.toFixed(0)}% CPU: figures are lower than this machine can do`);
  return others;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const now = () => performance.now();

/** A run's server, socket and counters; `fatal` is set as soon as the server or the socket dies. */
class RunContext {
  fatal: string | null = null;
  private ws: WebSocket | null = null;

  constructor(
    readonly kind: RunKind,
    readonly baseUrl: string,
    readonly child: ChildProcess,
    readonly output: () => string,
    readonly tracker: ReactionTracker,
    readonly idPrefix: string,
  ) {
    child.once('exit', (code, signal) => {
      this.fatal ??= `the server exited (code ${code}, signal ${signal}); last output:\n${output().slice(-3000)}`;
    });
  }

  get headers(): Record<string, string> {
    return { 'x-api-key': API_KEY, 'content-type': 'application/json' };
  }

  async connect(channel: string): Promise<void> {
    const ws = new WebSocket(`${this.baseUrl.replace(/^http/, 'ws')}/ws`, { headers: { 'x-api-key': API_KEY } });
    this.ws = ws;
    let caughtUp: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    ws.on('message', (data: RawData) => {
      const at = now();
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
      if (text.length < 300 && text.includes('"type":"caught-up"')) caughtUp();
      this.tracker.onFrame(text, at);
    });
    ws.on('close', (code, reason) => {
      this.fatal ??= `the WebSocket was closed by the server: ${code} ${reason.toString('utf8')}`;
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'subscribe', channel }));
    await Promise.race([ready, sleep(10_000).then(() => Promise.reject(new Error(`no caught-up on "${channel}" within 10 s`)))]);
  }

  close(): void {
    this.ws?.removeAllListeners('close');
    this.ws?.terminate();
  }

  check(): void {
    if (this.fatal) throw new Error(this.fatal);
  }

  async json(path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.baseUrl}${path}`, { ...init, headers: this.headers });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: keep the text for the error message.
    }
    return { status: res.status, body };
  }

  /** Largest lag of any projection, or null when the endpoint does not answer. */
  async projectionLag(): Promise<number | null> {
    const { status, body } = await this.json('/api/v1/admin/projections');
    if (status !== 200) return null;
    const items = (body as { items?: { lag?: unknown }[] }).items ?? [];
    return Math.max(0, ...items.map((p) => (typeof p.lag === 'number' ? p.lag : 0)));
  }

  /** Sum of every agent's `decisionCount` in the agents read model. */
  async projectedDecisions(): Promise<number> {
    let total = 0;
    let cursor: string | null = null;
    do {
      const query: string = `/api/v1/agents?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const { status, body } = await this.json(query);
      if (status !== 200) throw new Error(`GET ${query} → ${status}: ${JSON.stringify(body).slice(0, 300)}`);
      const page = body as { items: { decisionCount?: number }[]; nextCursor: string | null };
      for (const agent of page.items) total += agent.decisionCount ?? 0;
      cursor = page.nextCursor;
    } while (cursor);
    return total;
  }
}

interface Batch {
  readonly fromSeq: number;
  readonly count: number;
  readonly body: string;
}

/** Builds a step's batches up front (not timed) and records how many answers each event expects. */
function buildStep(ctx: RunContext, fanOut: FanOut | null, runId: string, fromSeq: number, events: number, batchSize: number): Batch[] {
  const batches: Batch[] = [];
  for (let done = 0; done < events; done += batchSize) {
    const count = Math.min(batchSize, events - done);
    const list = Array.from({ length: count }, (_, i) => {
      const seq = fromSeq + done + i;
      const event = workloadEvent(runId, seq);
      ctx.tracker.setExpected(seq, fanOut ? fanOut.expected(event) : 1);
      return event;
    });
    batches.push({ fromSeq: fromSeq + done, count, body: JSON.stringify(list) });
  }
  return batches;
}

interface SendResult {
  /** Events whose batch went out before the deadline (a prefix of the step's events). */
  readonly sent: number;
  readonly acked: number;
  readonly elapsedMs: number;
  readonly ackLatenciesMs: number[];
  readonly errors: Map<string, number>;
}

/**
 * Open loop: batch k goes out at start + k × interval, unless MAX_IN_FLIGHT requests are open.
 * Batches still unsent at `deadlineMs` are dropped, so a server that cannot keep up does not
 * stretch the step without bound.
 */
async function sendAtRate(ctx: RunContext, batches: readonly Batch[], intervalMs: number, deadlineMs: number, label: string): Promise<SendResult> {
  const errors = new Map<string, number>();
  const ackLatenciesMs: number[] = [];
  const open = new Set<Promise<void>>();
  let acked = 0;
  let sentEvents = 0;
  let lastAck = 0;
  const start = now();
  const ticker = setInterval(() => {
    const t = (now() - start) / 1000;
    progress(`  ${label}: ${t.toFixed(0)} s, ${acked} events 202'd, ${ctx.tracker.seenValid}/${ctx.tracker.expectedSent} answers in (pending ${ctx.tracker.pending})`);
  }, 2000);
  try {
    for (let k = 0; k < batches.length && !ctx.fatal; k++) {
      const wait = start + k * intervalMs - now();
      if (wait > 1) await sleep(wait);
      while (open.size >= MAX_IN_FLIGHT) await Promise.race(open);
      if (now() - start > deadlineMs) {
        progress(`  ${label}: step deadline passed, ${batches.length - k} of ${batches.length} batches not sent`);
        break;
      }
      const batch = batches[k];
      const sent = now();
      sentEvents += batch.count;
      ctx.tracker.markSent(batch.fromSeq, batch.count, sent);
      const request = fetch(`${ctx.baseUrl}/api/v1/events`, { method: 'POST', headers: ctx.headers, body: batch.body })
        .then(async (res) => {
          const text = await res.text();
          if (res.status !== 202) {
            const key = `HTTP ${res.status}: ${text.slice(0, 200)}`;
            errors.set(key, (errors.get(key) ?? 0) + 1);
            return;
          }
          lastAck = now();
          ackLatenciesMs.push(lastAck - sent);
          ctx.tracker.markAcked(batch.fromSeq, batch.count, lastAck);
          acked += batch.count;
        })
        .catch((error: unknown) => {
          const key = `network: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`;
          errors.set(key, (errors.get(key) ?? 0) + 1);
        })
        .finally(() => open.delete(request));
      open.add(request);
    }
    await Promise.all(open);
  } finally {
    clearInterval(ticker);
  }
  return { sent: sentEvents, acked, elapsedMs: (lastAck || now()) - start, ackLatenciesMs, errors };
}

/** Waits until `done()` or `limitMs`; resolves with the ms it took, or null. */
async function waitUntil(ctx: RunContext, done: () => boolean | Promise<boolean>, limitMs: number, everyMs = 25): Promise<number | null> {
  const start = now();
  while (now() - start < limitMs) {
    if (ctx.fatal) return null;
    if (await done()) return now() - start;
    await sleep(everyMs);
  }
  return (await done()) ? now() - start : null;
}

async function runStep(ctx: RunContext, fanOut: FanOut | null, runId: string, fromSeq: number, rate: number, seconds: number, label: string): Promise<StepResult> {
  const batchSize = Math.max(1, Math.round((rate * FLUSH_MS) / 1000));
  const events = Math.max(batchSize, Math.round(rate * seconds));
  const batches = buildStep(ctx, fanOut, runId, fromSeq, events, batchSize);
  const intervalMs = (batchSize / rate) * 1000;
  progress(`${label}: ${events} events at ${formatRate(rate)}/s, batches of ${batchSize} every ${intervalMs.toFixed(1)} ms`);

  const pid = ctx.child.pid ?? 0;
  const serverCpuStart = processCpuMs(pid) ?? 0;
  const benchCpuStart = process.cpuUsage();
  const machineStart = machineBusyMs();
  const answersBefore = ctx.tracker.seenValid;
  const decisionsBefore = ctx.kind === 'agents' ? await ctx.projectedDecisions() : 0;
  const start = now();

  const sent = await sendAtRate(ctx, batches, intervalMs, seconds * 1000 * STEP_DEADLINE_FACTOR + 1000, label);
  const sendEnd = now();
  // Only what was sent counts; the next step starts after every built id, so ids never repeat.
  const toSeq = fromSeq + sent.sent;
  const sendWallMs = sendEnd - start;
  const serverCpuPercent = (((processCpuMs(pid) ?? serverCpuStart) - serverCpuStart) / sendWallMs) * 100;
  const benchCpu = process.cpuUsage(benchCpuStart);
  const benchCpuPercent = ((benchCpu.user + benchCpu.system) / 1000 / sendWallMs) * 100;
  const othersCpu = Math.max(0, ((machineBusyMs() - machineStart) / sendWallMs) * 100 - serverCpuPercent - benchCpuPercent);
  const answersWhileSending = ctx.tracker.seenValid - answersBefore;
  const backlogAtEnd = ctx.tracker.pendingIn(fromSeq, toSeq);
  ctx.check();

  progress(`  ${label}: sending done, ${backlogAtEnd} answers pending; draining (at most ${DRAIN_SECONDS} s)`);
  const drainMs = await waitUntil(ctx, () => ctx.tracker.pendingIn(fromSeq, toSeq) === 0, DRAIN_SECONDS * 1000);
  const backlogAfterDrain = ctx.tracker.pendingIn(fromSeq, toSeq);
  ctx.check();
  const lagLimit = Math.max(2000, DRAIN_SECONDS * 1000 - (now() - sendEnd));
  const projectedAfterDrain = await waitUntil(ctx, async () => (await ctx.projectionLag()) === 0, lagLimit, 100);
  const projectedMs = projectedAfterDrain === null ? null : now() - sendEnd;
  const serverCpuMs = (processCpuMs(pid) ?? serverCpuStart) - serverCpuStart;
  const decisionsProjected = ctx.kind === 'agents' ? (await ctx.projectedDecisions()) - decisionsBefore : null;
  ctx.check();

  const stats: SpanStats = ctx.tracker.stats(fromSeq, toSeq);
  const ingestRate = (sent.acked / sent.elapsedMs) * 1000;
  const perSecondOfWork = rate * (stats.expected / Math.max(1, stats.events));
  const errorCount = [...sent.errors.values()].reduce((a, b) => a + b, 0);
  const reasons: string[] = [];
  if (errorCount > 0) reasons.push(`${errorCount} failed requests`);
  if (sent.sent < events) reasons.push(`${events - sent.sent} events not sent by the step deadline`);
  if (ingestRate < 0.9 * rate) reasons.push(`sent ${formatRate(ingestRate)}/s of ${formatRate(rate)}/s`);
  if (backlogAtEnd > perSecondOfWork) reasons.push(`backlog ${backlogAtEnd} > 1 s of work`);
  if (drainMs === null) reasons.push(`${backlogAfterDrain} answers still missing ${DRAIN_SECONDS} s after sending`);
  if (projectedMs === null) reasons.push('read models not caught up');
  const keptUp = reasons.length === 0;

  const result: StepResult = {
    targetRate: rate,
    batchSize,
    planned: events,
    events: sent.sent,
    acked: sent.acked,
    errors: Object.fromEntries(sent.errors),
    ingestRate,
    answersPerSecond: (answersWhileSending / sendWallMs) * 1000,
    decisionsProjected,
    expectedAnswers: stats.expected,
    seenAnswers: stats.seen,
    avgFanOut: stats.expected / Math.max(1, stats.events),
    firstP50: percentile(stats.firstMs, 50),
    firstP99: percentile(stats.firstMs, 99),
    allP50: percentile(stats.allMs, 50),
    allP99: percentile(stats.allMs, 99),
    allMax: percentile(stats.allMs, 100),
    ackP99: percentile(sent.ackLatenciesMs, 99),
    allAfterAckP50: percentile(stats.allAfterAckMs, 50),
    allAfterAckP99: percentile(stats.allAfterAckMs, 99),
    backlogAtEnd,
    backlogAfterDrain,
    drainMs,
    projectedMs,
    serverCpuPercent,
    benchCpuPercent,
    serverCpuMsPerEvent: serverCpuMs / Math.max(1, sent.sent),
    othersCpuPercent: othersCpu,
    keptUp,
    verdict: keptUp ? 'kept up' : reasons.join('; '),
  };
  for (const [what, count] of sent.errors) progress(`  ${label}: ${count}× ${what}`);
  progress(
    `  ${label}: ingest ${formatRate(ingestRate)}/s, answers ${formatRate(result.answersPerSecond)}/s, ` +
      `first p50/p99 ${ms(result.firstP50)}/${ms(result.firstP99)} ms, all p50/p99 ${ms(result.allP50)}/${ms(result.allP99)} ms ` +
      `(POST → 202 p99 ${ms(result.ackP99)} ms; 202 → all p50/p99 ${ms(result.allAfterAckP50)}/${ms(result.allAfterAckP99)} ms), ` +
      `drained ${drainMs === null ? 'NO' : `in ${ms(drainMs)} ms`}, CPU server ${result.serverCpuPercent.toFixed(0)}% bench ${result.benchCpuPercent.toFixed(0)}% others ${othersCpu.toFixed(0)}% — ${result.verdict}`,
  );
  return result;
}

async function createAgents(ctx: RunContext, agents: readonly BenchAgent[]): Promise<number> {
  const start = now();
  for (const agent of agents) {
    const { status, body } = await ctx.json('/api/v1/agents', { method: 'POST', body: JSON.stringify(agent.definition) });
    if (status !== 201) throw new Error(`POST /api/v1/agents (agent ${agent.index}) → ${status}: ${JSON.stringify(body).slice(0, 500)}`);
    if ((agent.index + 1) % 25 === 0) progress(`  ${agent.index + 1}/${agents.length} agents defined`);
  }
  return now() - start;
}

async function runPeer(kind: RunKind): Promise<RunResult> {
  const label = kind === 'agents' ? `${AGENT_COUNT} agents` : 'no agents';
  const channel = kind === 'agents' ? 'events:reaction.' : 'events';
  const agents = kind === 'agents' ? benchAgents(AGENT_COUNT) : [];
  const fanOut = kind === 'agents' ? new FanOut(agents) : null;
  const runId = `${kind}-${randomUUID().slice(0, 8)}`;
  const idPrefix = `${runId}-`;
  const mode: TrackMode = kind === 'agents' ? 'reactions' : 'ingested';
  const capacity = Math.ceil(RATES.reduce((sum, r) => sum + r * STEP_SECONDS + r, 0) + RATES[0] * WARMUP_SECONDS + RATES[0]) + 1000;
  const result: RunResult = { kind, channel, agents: agents.length, agentsCreatedMs: null, steps: [], peakRssBytes: 0, othersCpuBefore: 0, serverLog: {}, unexpectedAnswers: 0, serverErrors: [], failure: null };

  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-runtime-'));
  let ctx: RunContext | null = null;
  let rss: RssSampler | null = null;
  try {
    result.othersCpuBefore = await waitForQuietMachine(label);
    progress(`${label}: starting the server`);
    const proc = await spawnStandalone({ MERIDIAN_DATA_DIR: dataDir, MERIDIAN_ADMIN_API_KEY: API_KEY, LOG_LEVEL: 'warn' });
    ctx = new RunContext(kind, proc.baseUrl, proc.child, proc.output, new ReactionTracker(capacity, idPrefix, mode), idPrefix);
    rss = new RssSampler(proc.child.pid ?? 0);
    progress(`${label}: listening at ${proc.baseUrl} (pid ${proc.child.pid})`);
    if (kind === 'agents') {
      progress(`${label}: defining ${agents.length} rules agents over HTTP`);
      result.agentsCreatedMs = await createAgents(ctx, agents);
    }
    await ctx.connect(channel);
    progress(`${label}: WebSocket subscribed to "${channel}"`);

    let seq = 0;
    const warm = await runStep(ctx, fanOut, runId, seq, RATES[0], WARMUP_SECONDS, `${label} warm-up`);
    seq += warm.planned;
    for (const rate of RATES) {
      const step = await runStep(ctx, fanOut, runId, seq, rate, STEP_SECONDS, `${label} @ ${formatRate(rate)}/s`);
      seq += step.planned;
      result.steps.push(step);
      if (!step.keptUp) {
        progress(`${label}: did not keep up at ${formatRate(rate)}/s — no higher rates`);
        break;
      }
    }
  } catch (error: unknown) {
    result.failure = error instanceof Error ? error.message : String(error);
    progress(`${label}: FAILED: ${result.failure}`);
  } finally {
    if (ctx) {
      result.unexpectedAnswers = ctx.tracker.unexpected;
      result.serverErrors = ctx.tracker.serverErrors.slice(0, 20);
      ctx.close();
    }
    if (rss) result.peakRssBytes = rss.stop().peakBytes;
    if (ctx) {
      await killHard(ctx.child);
      result.serverLog = warnLogSummary(ctx.output());
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  return result;
}

function ms(value: number | null): string {
  return value !== null && Number.isFinite(value) ? value.toFixed(1) : '-';
}

const ms2 = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '-');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '-');

function stepRows(run: RunResult): string[][] {
  return run.steps.map((s) => [
    formatRate(s.targetRate),
    formatRate(s.ingestRate),
    formatRate(s.answersPerSecond),
    s.avgFanOut.toFixed(2),
    ms(s.firstP50),
    ms(s.firstP99),
    ms(s.allP50),
    ms(s.allP99),
    ms(s.allMax),
    ms(s.ackP99),
    ms(s.allAfterAckP99),
    String(s.backlogAtEnd),
    s.drainMs === null ? 'no' : ms(s.drainMs),
    `${s.serverCpuPercent.toFixed(0)}%`,
    s.serverCpuMsPerEvent.toFixed(2),
    `${s.othersCpuPercent.toFixed(0)}%`,
    s.keptUp ? 'yes' : 'NO',
  ]);
}

const STEP_HEADERS = ['target/s', 'ingest/s', 'answers/s', 'fan-out', 'first p50', 'first p99', 'all p50', 'all p99', 'all max', '202 p99', 'after-202 p99', 'backlog', 'drain ms', 'server CPU', 'CPU ms/event', 'others CPU', 'kept up'];

function highestKeptUp(run: RunResult): StepResult | undefined {
  return [...run.steps].reverse().find((s) => s.keptUp);
}

async function main(): Promise<void> {
  const started = Date.now();
  progress(`runtime benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), rates ${RATES.join(', ')} events/s, ${STEP_SECONDS} s a step`);
  const agentsRun = await runPeer('agents');
  const baselineRun = await runPeer('baseline');

  const out = process.stdout;
  out.write(`\nEnd to end with ${AGENT_COUNT} rules agents (ingest → stored → routed → decided → reaction emitted → visible on /ws "${agentsRun.channel}")\n`);
  out.write(
    `latency in ms from the POST being sent; "first"/"all" = the first / last of an event's reactions; "202 p99" = the POST's own latency;\n` +
      `"after-202 p99" = the last reaction counted from the 202; answers/s = reactions arriving while sending; CPU ms/event = server CPU per event sent\n\n`,
  );
  out.write(table(STEP_HEADERS, stepRows(agentsRun)) + '\n');
  const decided = agentsRun.steps.map((s) => s.decisionsProjected ?? 0).reduce((a, b) => a + b, 0);
  out.write(`decisions counted by the agents read model over these steps: ${decided} (reactions expected: ${agentsRun.steps.reduce((a, s) => a + s.expectedAnswers, 0)})\n`);
  if (agentsRun.failure) out.write(`FAILED: ${agentsRun.failure}\n`);

  out.write(`\nBaseline: same server, no agents (ingest → stored → visible on /ws "${baselineRun.channel}")\n\n`);
  out.write(table(STEP_HEADERS, stepRows(baselineRun)) + '\n');
  if (baselineRun.failure) out.write(`FAILED: ${baselineRun.failure}\n`);

  const common = agentsRun.steps.filter((s) => baselineRun.steps.some((b) => b.targetRate === s.targetRate));
  out.write('\nAgents / baseline at the same target rate\n\n');
  out.write(
    table(
      ['target/s', 'ingest/s ratio', 'p50 ratio', 'p99 ratio', 'CPU ms/event ratio'],
      common.map((a) => {
        const b = baselineRun.steps.find((s) => s.targetRate === a.targetRate) as StepResult;
        return [formatRate(a.targetRate), ratio(a.ingestRate, b.ingestRate), ratio(a.allP50, b.allP50), ratio(a.allP99, b.allP99), ratio(a.serverCpuMsPerEvent, b.serverCpuMsPerEvent)];
      }),
    ) + '\n',
  );
  const cheapest = (run: RunResult) => Math.min(...run.steps.filter((st) => st.events >= 1000).map((st) => st.serverCpuMsPerEvent));
  const [agentsCost, baselineCost] = [cheapest(agentsRun), cheapest(baselineRun)];
  out.write(
    `server CPU per ingested event (best step of >= 1000 events): ${ms2(agentsCost)} ms with agents, ${ms2(baselineCost)} ms without (${ratio(agentsCost, baselineCost)}); ` +
      `one fully available core would sustain about ${formatRate(1000 / agentsCost)} and ${formatRate(1000 / baselineCost)} events/s\n`,
  );
  const bestAgents = highestKeptUp(agentsRun);
  const bestBaseline = highestKeptUp(baselineRun);
  out.write(
    `highest rate kept up: ${bestAgents ? formatRate(bestAgents.targetRate) : 'none'} events/s with agents, ` +
      `${bestBaseline ? formatRate(bestBaseline.targetRate) : 'none'} events/s without (${bestAgents && bestBaseline ? ratio(bestAgents.targetRate, bestBaseline.targetRate) : '-'})\n`,
  );

  const atTarget = agentsRun.steps.find((s) => s.targetRate === TARGET_RATE);
  const underP99 = [...agentsRun.steps].reverse().find((s) => s.keptUp && s.allP99 < TARGET_P99_MS);
  const throughputMet = bestAgents !== undefined && bestAgents.targetRate >= TARGET_RATE && bestAgents.ingestRate >= 0.95 * TARGET_RATE;
  const latencyMet = atTarget !== undefined && atTarget.keptUp && atTarget.allP99 < TARGET_P99_MS;
  out.write('\nDESIGN.md §9 targets\n\n');
  out.write(
    table(
      ['target', 'measured', 'met'],
      [
        [`end to end with ${AGENT_COUNT} rules agents >= ${formatRate(TARGET_RATE)} events/s`, bestAgents ? `${formatRate(bestAgents.ingestRate)} events/s kept up (at ${formatRate(bestAgents.targetRate)}/s)` : 'no step kept up', throughputMet ? 'met' : 'NOT MET'],
        [
          `reaction p99 < ${TARGET_P99_MS} ms at ${formatRate(TARGET_RATE)} events/s`,
          atTarget ? `${ms(atTarget.allP99)} ms (all reactions), ${ms(atTarget.firstP99)} ms (first)${atTarget.keptUp ? '' : ', did not keep up'}` : 'rate not reached',
          latencyMet ? 'met' : 'NOT MET',
        ],
        [`highest rate with reaction p99 < ${TARGET_P99_MS} ms`, underP99 ? `${formatRate(underP99.targetRate)} events/s (p99 ${ms(underP99.allP99)} ms)` : 'none', '-'],
      ],
    ) + '\n\n',
  );
  out.write(`server peak RSS: ${formatMiB(agentsRun.peakRssBytes)} with agents, ${formatMiB(baselineRun.peakRssBytes)} without; answers beyond the expected: ${agentsRun.unexpectedAnswers} / ${baselineRun.unexpectedAnswers}\n`);
  for (const run of [agentsRun, baselineRun]) {
    for (const e of run.serverErrors) out.write(`server error on the ${run.kind} socket: ${e}\n`);
    const logged = Object.entries(run.serverLog).sort((a, b) => b[1] - a[1]);
    if (logged.length > 0) out.write(`server warnings/errors logged (${run.kind} run): ${logged.slice(0, 5).map(([msg, n]) => `${n}× ${msg}`).join('; ')}\n`);
  }
  const busy = [...agentsRun.steps, ...baselineRun.steps].some((s) => s.othersCpuPercent > QUIET_CPU_PERCENT);
  if (busy) out.write(`NOTE: other processes used more than ${QUIET_CPU_PERCENT}% of a core during some steps ("others CPU"): those figures understate what this machine can do\n`);
  out.write(`total run time: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);

  mkdirSync(join(RESULT_FILE, '..'), { recursive: true });
  writeFileSync(
    RESULT_FILE,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, node: process.version },
        config: { rates: RATES, stepSeconds: STEP_SECONDS, agents: AGENT_COUNT, flushMs: FLUSH_MS, drainSeconds: DRAIN_SECONDS, maxInFlight: MAX_IN_FLIGHT },
        targets: { rate: TARGET_RATE, p99Ms: TARGET_P99_MS, throughputMet, latencyMet },
        runs: { agents: agentsRun, baseline: baselineRun },
      },
      null,
      2,
    ),
  );
  out.write(`results written to ${RESULT_FILE}\n`);

  const errors = [agentsRun, baselineRun].some((r) => r.failure !== null || r.unexpectedAnswers > 0 || r.steps.some((s) => Object.keys(s.errors).length > 0));
  if (errors) {
    process.stderr.write('FAILED: a run crashed, a request was not answered 202, or an event got more answers than its subscriptions allow (see above)\n');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
