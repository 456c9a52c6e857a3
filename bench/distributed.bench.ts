/**
 * The distributed mode end to end, next to the transport's own limit (DESIGN.md §9: 10,000
 * events/s with reaction p99 < 100 ms on a 2-core machine).
 *
 *   npm run bench:distributed                     # 2.5-5 minutes (escalation stops at the first rate not kept up)
 *   npm run bench:distributed -- --quick          # about 1.5 minutes: shorter steps, a smaller flat-out peer run
 *   BENCH_DIST_RATES=2000,4000 BENCH_DIST_STEP_SECONDS=20 npm run bench:distributed
 *   BENCH_DIST_AGENTS=8 npm run bench:distributed          # fewer agents (64 by default)
 *   BENCH_DIST_CPU_PROFILE=1 npm run bench:distributed     # profiles the runtime over the agent steps
 *
 * Meridian: gateway, runtime and projector as three OS processes (`npm run start:<app>`'s command,
 * see test/e2e/support/distributed-processes.ts) on PostgreSQL, Redis and the Kafka broker, with
 * a fresh schema, topic prefix and Redis prefix, and the configuration's default partition counts.
 * The benchmark produces CloudEvents to `<prefix>.inbound` (structured mode: `content-type:
 * application/cloudevents+json`, key = subject, value = the JSON event) open loop at each target
 * rate (250, 1k, 2.5k, 5k, 10k events/s by default), and a WebSocket client on the gateway's `/ws` sees
 * the answers. Latency runs from the produce request going out to the answer arriving on the
 * socket; no model is in the way (rules agents only).
 *
 * 1. Peer, on the same broker in the same run: raw kafkajs, the same producer code and messages to
 *    a fresh topic with as many partitions as the inbound topic, read back by a consumer group in
 *    its own process with the runtime's consumer settings — produce → consume latency at the same
 *    rates, then flat out for the transport's throughput.
 * 2a. The ingest path alone: events no agent subscribes to, answered by themselves reaching the
 *    socket (`events:dist.order.viewed`): decode, group commit, routing that matches nothing, the
 *    Kafka and Redis relays, the projector.
 * 2b. With agents: BENCH_DIST_AGENTS rules agents (64) each react to the events of their shard
 *    (`data.shard`), so every event gets exactly one decision and one emitted `reaction.dist` event
 *    carrying the event's id and send time (`events:reaction.dist` on the socket). Then one agent
 *    alone gets a burst of events: its decisions per second bound what one agent can take, since
 *    an agent decides its inputs one at a time.
 *
 * A step that does not keep up (events not sent on time, more than one second of work left when
 * sending stopped, not drained within BENCH_DIST_DRAIN_SECONDS, fewer than 90 % of the target
 * rate answered) ends its escalation. After each step the event store tells where the time went
 * (sent → stored → routed → decided → reacted; bench/support/distributed-stages.ts) and how many
 * events per second were stored; pg_stat_activity tells what the apps' PostgreSQL sessions were
 * doing; /proc gives CPU per process (apps, bench, peer consumer, Kafka, PostgreSQL, Redis, the
 * rest of the machine) and the apps' socket system calls per answer.
 *
 * The broker and the databases are shared: other work on them shows as their CPU, and each run
 * first waits (at most BENCH_QUIET_WAIT_SECONDS) for the machine to be quiet. Nothing here asserts
 * on time; the figures are reported, and the target is stated as met or not. Everything the run
 * creates (schema, topics, consumer groups) is removed at the end. Results also go to
 * node_modules/.cache/meridian/bench-distributed.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Producer } from 'kafkajs';
import { formatRate, positiveNumber, progress, rateList, table, warnLogSummary } from './support/bench-report';
import { othersCpuPercent, type CpuUsage } from './support/distributed-cpu';
import { closeDeployment, defineAgents, KAFKA_BROKERS, startDeployment, type BenchDeployment } from './support/distributed-deployment';
import { benchKafka, connectProducer, REACTION_TYPE, SINGLE_AGENT_TYPE, sleep, typicalMessageBytes, UNROUTED_TYPE } from './support/distributed-load';
import { runPeer, type PeerResult, type PeerStep } from './support/distributed-peer';
import { profileWritten, summarizeCpuProfile, toggleProfiler, type ProfileSummary } from './support/distributed-profile';
import { ReactionWatcher, SeqTracker } from './support/distributed-reactions';
import { MeridianContext, measureIdle, runSerialProbe, runStep, waitUntil, type IdleMeasure, type MeridianStep, type SerialProbe } from './support/distributed-steps';

const QUICK = process.argv.includes('--quick');
const RATES = rateList(process.env.BENCH_DIST_RATES, [250, 1000, 2500, 5000, 10_000]);
const STEP_SECONDS = positiveNumber(process.env.BENCH_DIST_STEP_SECONDS, QUICK ? 6 : 15);
const PEER_STEP_SECONDS = positiveNumber(process.env.BENCH_DIST_PEER_STEP_SECONDS, QUICK ? 3 : 5);
const FLAT_OUT_EVENTS = Math.round(positiveNumber(process.env.BENCH_DIST_FLATOUT_EVENTS, QUICK ? 50_000 : 150_000));
const INGEST_STEP_SECONDS = positiveNumber(process.env.BENCH_DIST_INGEST_STEP_SECONDS, QUICK ? 4 : 8);
/**
 * Enough agents that one agent's own pace (it decides its inputs one at a time) is not what limits
 * the run: with 64 the figures match those with 256 on a 2-core machine. The serial probe measures
 * that pace separately.
 */
const AGENTS = Math.round(positiveNumber(process.env.BENCH_DIST_AGENTS, 64));
const SERIAL_PROBE_EVENTS = Math.round(positiveNumber(process.env.BENCH_DIST_SERIAL_EVENTS, QUICK ? 200 : 400));
/** How long the serial probe waits for the last step's backlog (one agent is timed on an otherwise idle runtime). */
const PROBE_DRAIN_SECONDS = QUICK ? 30 : 60;
const DRAIN_SECONDS = positiveNumber(process.env.BENCH_DIST_DRAIN_SECONDS, QUICK ? 10 : 15);
const CPU_PROFILE = process.env.BENCH_DIST_CPU_PROFILE === '1';
const PARTITIONS = {
  inbound: Math.round(positiveNumber(process.env.BENCH_DIST_PARTITIONS_INBOUND, 6)),
  events: Math.round(positiveNumber(process.env.BENCH_DIST_PARTITIONS_EVENTS, 6)),
  mailbox: Math.round(positiveNumber(process.env.BENCH_DIST_PARTITIONS_MAILBOX, 12)),
};
/** Every FLUSH_MS the producer sends what is due as one request (100 events a request at 10k/s). */
const FLUSH_MS = 10;
const MAX_IN_FLIGHT = 32;
const WARMUP_RATE = 200;
const IDLE_SECONDS = QUICK ? 3 : 5;
const WARMUP_SECONDS = 3;
const STEP_DEADLINE_FACTOR = 1.5;
const QUIET_CPU_PERCENT = 30;
const QUIET_WAIT_SECONDS = positiveNumber(process.env.BENCH_QUIET_WAIT_SECONDS, 20);
const TARGET_RATE = 10_000;
const TARGET_P99_MS = 100;
const RESULT_FILE = join(__dirname, '..', 'node_modules', '.cache', 'meridian', 'bench-distributed.json');

interface MeridianRun {
  startupMs: number;
  agentsDefinedMs: number;
  /** The deployment up, agents defined, no events. */
  idle: IdleMeasure | null;
  warmUp: MeridianStep | null;
  /** The ingest path alone: events no agent subscribes to. */
  readonly ingestSteps: MeridianStep[];
  readonly steps: MeridianStep[];
  serialProbe: SerialProbe | null;
  /** Reactions of the earlier steps still pending when the serial probe started (0: it ran alone). */
  serialProbeBacklog: number;
  /** The runtime's CPU profile over the measured steps (BENCH_DIST_CPU_PROFILE=1). */
  profile: ProfileSummary | null;
  unexpectedAnswers: number;
  /** Answers that arrived after their step had stopped waiting (so not in its figures). */
  lateAnswers: { reactions: number; ingested: number };
  socketErrors: string[];
  appLog: Record<string, Record<string, number>>;
  failure: string | null;
}

const ms = (value: number | null | undefined): string => (value !== null && value !== undefined && Number.isFinite(value) ? value.toFixed(1) : '-');
const pct = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(0)}%` : '-');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(a / b < 0.1 ? 3 : 2)}x` : '-');
const share = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${((a / b) * 100).toFixed(a / b < 0.1 ? 2 : 0)}%` : '-');

async function waitForQuietMachine(bench: BenchDeployment | null): Promise<number> {
  const roles = bench?.roles ?? new Map();
  const start = performance.now();
  let others = await othersCpuPercent(roles, 2000);
  while (others > QUIET_CPU_PERCENT && performance.now() - start < QUIET_WAIT_SECONDS * 1000) {
    progress(`other processes use ${others.toFixed(0)}% CPU; waiting for the machine to be quieter (at most ${QUIET_WAIT_SECONDS} s)`);
    others = await othersCpuPercent(roles, 3000);
  }
  if (others > QUIET_CPU_PERCENT) progress(`going ahead with other processes using ${others.toFixed(0)}% CPU: figures are lower than this machine can do`);
  return others;
}

async function runMeridian(bench: BenchDeployment, pg: Client, producer: Producer, run: MeridianRun, profileDir: string | null): Promise<void> {
  const runId = `dist-${Date.now().toString(36)}`;
  const perStep = (seconds: number) => RATES.reduce((sum, rate) => sum + rate * seconds * STEP_DEADLINE_FACTOR + rate, 0);
  const reactions = new SeqTracker(Math.ceil(perStep(STEP_SECONDS) + WARMUP_RATE * WARMUP_SECONDS) + SERIAL_PROBE_EVENTS + 10_000);
  const unrouted = new SeqTracker(Math.ceil(perStep(INGEST_STEP_SECONDS)) + 10_000);
  const watcher = new ReactionWatcher(reactions, `${runId}-`, unrouted);
  const settings = { shards: AGENTS, flushMs: FLUSH_MS, maxInFlight: MAX_IN_FLIGHT, drainSeconds: DRAIN_SECONDS, deadlineFactor: STEP_DEADLINE_FACTOR };
  const ctx = new MeridianContext(bench, producer, pg, reactions, unrouted, watcher, runId, settings);
  try {
    progress(`Meridian: defining ${AGENTS} rules agents over the gateway's HTTP API`);
    const defineStart = performance.now();
    await defineAgents(bench, AGENTS);
    run.agentsDefinedMs = performance.now() - defineStart;
    await watcher.connect(bench.gateway.baseUrl, bench.deployment.apiKey);
    progress(`Meridian: WebSocket on ${bench.gateway.baseUrl}/ws subscribed to ${watcher.channels.map((c) => `"${c}"`).join(' and ')}`);
    run.idle = await measureIdle(ctx, IDLE_SECONDS);
    let seq = 0;
    const warm = await runStep(ctx, 'agents', seq, WARMUP_RATE, WARMUP_SECONDS, 'Meridian warm-up');
    seq += warm.planned;
    run.warmUp = warm;
    if (warm.answered === 0) throw new Error(`warm-up: none of ${warm.sent} events got its reaction within ${DRAIN_SECONDS} s`);
    if (!warm.keptUp) progress(`Meridian: the warm-up at ${WARMUP_RATE}/s did not keep up (${warm.verdict}); measuring the steps anyway`);

    // The ingest path alone first: events no agent subscribes to.
    let ingestSeq = 0;
    for (const rate of RATES) {
      const step = await runStep(ctx, 'ingest', ingestSeq, rate, INGEST_STEP_SECONDS, `Meridian ingest only @ ${formatRate(rate)}/s`);
      ingestSeq += step.planned;
      run.ingestSteps.push(step);
      if (!step.keptUp) {
        progress(`Meridian ingest only: did not keep up at ${formatRate(rate)}/s — no higher rates`);
        break;
      }
    }

    if (profileDir) toggleProfiler(bench.runtime.child.pid ?? 0);
    for (const rate of RATES) {
      const step = await runStep(ctx, 'agents', seq, rate, STEP_SECONDS, `Meridian @ ${formatRate(rate)}/s`);
      seq += step.planned;
      run.steps.push(step);
      if (!step.keptUp) {
        progress(`Meridian: did not keep up at ${formatRate(rate)}/s — no higher rates`);
        break;
      }
    }
    if (profileDir) {
      toggleProfiler(bench.runtime.child.pid ?? 0);
      const file = await profileWritten(profileDir, bench.runtime.child.pid ?? 0);
      if (file) {
        const kept = join(RESULT_FILE, '..', 'bench-distributed-runtime.cpuprofile');
        mkdirSync(join(RESULT_FILE, '..'), { recursive: true });
        run.profile = summarizeCpuProfile(file, kept);
      } else progress('the runtime wrote no CPU profile');
    }

    // Let what the last step left drain before one agent is timed alone.
    progress(`serial probe: waiting for the ${reactions.pendingIn(0, seq)} reactions still pending (at most ${PROBE_DRAIN_SECONDS} s)`);
    await waitUntil(() => reactions.pendingIn(0, seq) === 0, PROBE_DRAIN_SECONDS * 1000, () => ctx.fatal(), 100);
    run.serialProbeBacklog = reactions.pendingIn(0, seq);
    await defineAgents(bench, 1, SINGLE_AGENT_TYPE);
    run.serialProbe = await runSerialProbe(ctx, seq, SERIAL_PROBE_EVENTS, SINGLE_AGENT_TYPE);
  } catch (error: unknown) {
    run.failure = error instanceof Error ? error.message : String(error);
    progress(`Meridian FAILED: ${run.failure}`);
  } finally {
    run.unexpectedAnswers = reactions.unexpected + unrouted.unexpected;
    const counted = (steps: readonly MeridianStep[]) => steps.reduce((sum, step) => sum + step.answered, 0);
    run.lateAnswers = {
      reactions: reactions.answered - counted([...(run.warmUp ? [run.warmUp] : []), ...run.steps]) - (run.serialProbe?.answered ?? 0),
      ingested: unrouted.answered - counted(run.ingestSteps),
    };
    run.socketErrors = watcher.serverErrors.slice(0, 20);
    watcher.close();
  }
}

/** read + write system calls of an app per event answered, from the start of the step until drained. */
function syscallsPerEvent(step: MeridianStep, role: 'runtime' | 'projector' | 'gateway'): string {
  const io = step.cpuTotal.syscalls[role];
  return io ? ((io.reads + io.writes) / Math.max(1, step.answered)).toFixed(1) : '-';
}

function cpuCells(cpu: CpuUsage): string[] {
  const p = cpu.percent;
  return [pct(p.runtime), pct(p.gateway), pct(p.projector), pct(p.postgres), pct(p.kafka), pct(p.redis), pct(p.bench), pct(cpu.othersPercent), pct(cpu.machinePercent)];
}

function printReport(out: NodeJS.WritableStream, bench: BenchDeployment, peer: PeerResult, run: MeridianRun, messageBytes: number): { throughputMet: boolean; latencyMet: boolean } {
  const partitions = `${bench.partitions.inbound}/${bench.partitions.events}/${bench.partitions.mailbox}`;
  out.write(`\n1. Raw kafkajs peer: the benchmark's producer → a topic with ${bench.partitions.inbound} partitions → a consumer group in its own process (the runtime's consumer settings); ${messageBytes}-byte messages\n\n`);
  out.write(
    table(
      ['target/s', 'received/s', 'p50 ms', 'p99 ms', 'max ms', 'produce ack p99', 'bench CPU', 'consumer CPU', 'kafka CPU', 'kept up'],
      peer.steps.map((s) => [formatRate(s.targetRate), formatRate(s.eventsPerSecond), ms(s.p50), ms(s.p99), ms(s.max), ms(s.produceAckP99), pct(s.cpu.percent.bench), pct(s.cpu.percent.consumer), pct(s.cpu.percent.kafka), s.keptUp ? 'yes' : 'NO']),
    ) + '\n',
  );
  if (peer.flatOut) {
    const f = peer.flatOut;
    out.write(
      `flat out: ${f.events} events produced at ${formatRate(f.producedPerSecond)}/s, consumed at ${formatRate(f.consumedPerSecond)}/s (${f.received} received; ` +
        `p50/p99 ${ms(f.p50)}/${ms(f.p99)} ms, queueing included); CPU bench ${pct(f.cpu.percent.bench)}, consumer ${pct(f.cpu.percent.consumer)}, kafka ${pct(f.cpu.percent.kafka)}\n`,
    );
  }
  if (peer.failure) out.write(`PEER FAILED: ${peer.failure}\n`);

  const label = (s: MeridianStep) => (s === run.warmUp ? `${formatRate(s.targetRate)} (warm-up)` : s.kind === 'ingest' ? `${formatRate(s.targetRate)} ingest` : formatRate(s.targetRate));
  const stepRow = (s: MeridianStep) => [
    label(s),
    formatRate(s.sentPerSecond),
    formatRate(s.stages?.storedPerSecond ?? Number.NaN),
    formatRate(s.visiblePerSecond),
    ms(s.p50),
    ms(s.p99),
    ms(s.max),
    ms(s.visibleAfterStoredP99),
    String(s.backlogAtEnd),
    s.drainMs === null ? 'no' : ms(s.drainMs),
    s.projectedMs === null ? 'no' : ms(s.projectedMs),
    s.keptUp ? 'yes' : 'NO',
  ];
  const STEP_HEADERS = ['target/s', 'sent/s', 'stored/s', 'answers/s', 'p50 ms', 'p99 ms', 'max ms', 'stored→ws p99', 'backlog', 'drain ms', 'projected ms', 'kept up'];

  out.write(
    `\n2a. Meridian, the ingest path alone: events no agent subscribes to; Kafka ${bench.deployment.topicPrefix}.inbound → runtime (decode, group commit) → Redis → gateway /ws ("events:${UNROUTED_TYPE}"); ` +
      `partitions inbound/events/mailbox ${partitions}\nlatency: produce request sent → the event seen on the WebSocket; answers/s = events seen, first send → last seen\n\n`,
  );
  out.write(table(STEP_HEADERS, run.ingestSteps.map(stepRow)) + '\n');
  for (const s of run.ingestSteps) if (!s.keptUp) out.write(`ingest only @ ${formatRate(s.targetRate)}/s: ${s.verdict}\n`);

  const shown = [...(run.warmUp ? [run.warmUp] : []), ...run.steps];
  out.write(
    `\n2b. Meridian end to end with ${AGENTS} rules agents (each event: one decision, one emitted ${REACTION_TYPE}): Kafka → runtime (ingest, route, decide, act) → Redis → gateway /ws\n` +
      `latency: produce request sent → the reaction seen on the WebSocket; stored/s = ingested events stored; answers/s = reactions seen, first send → last seen\n\n`,
  );
  out.write(table(STEP_HEADERS, shown.map(stepRow)) + '\n');
  for (const s of shown) if (!s.keptUp) out.write(`@ ${label(s)}/s: ${s.verdict}\n`);
  if (run.serialProbe) {
    const p = run.serialProbe;
    out.write(
      `one agent alone (${p.events} events at once, ${p.answered} reactions): ${p.decisionsPerSecond.toFixed(0)} decisions/s, ${ms(p.gapP50)} ms between decisions at p50 (${ms(p.gapP99)} at p99): ` +
        `an agent takes its inputs one at a time, so events for one agent never go faster than that, and ${formatRate(TARGET_RATE)}/s needs at least ${Math.ceil(TARGET_RATE / p.decisionsPerSecond)} agents deciding in parallel` +
        `${run.serialProbeBacklog > 0 ? ` (measured while ${run.serialProbeBacklog} earlier reactions were still pending: slower than alone)` : ''}\n`,
    );
  }
  if (run.failure) out.write(`MERIDIAN FAILED: ${run.failure}\n`);

  const staged = [...run.ingestSteps, ...shown].filter((s) => s.stages !== null);
  if (staged.length > 0) {
    out.write('\nWhere the time goes: p50 / p99 ms per stage, from the times each stage stored its event ("reacted → visible" and "sent → visible" measured by the client)\n\n');
    const stageNames = (staged[0]?.stages?.stages ?? []).map((s) => s.stage);
    out.write(
      table(
        ['stage', ...staged.map((s) => `@ ${label(s)}/s`)],
        [
          ...stageNames.map((name) => [
            name,
            ...staged.map((s) => {
              const st = s.stages?.stages.find((x) => x.stage === name);
              return st && st.count > 0 ? `${ms(st.p50)} / ${ms(st.p99)}` : '-';
            }),
          ]),
          ['stored → visible on /ws', ...staged.map((s) => `${ms(s.visibleAfterStoredP50)} / ${ms(s.visibleAfterStoredP99)}`)],
          ['sent → visible on /ws', ...staged.map((s) => `${ms(s.p50)} / ${ms(s.p99)}`)],
          ['events written per event', ...staged.map((s) => (s.stages ? (s.stages.eventsWritten / Math.max(1, s.stages.ingested)).toFixed(2) : '-'))],
        ],
      ) + '\n',
    );
  }

  const all = [...run.ingestSteps, ...shown];
  if (all.length > 0) {
    out.write(`\nThe apps' PostgreSQL sessions while each step ran (average number of sessions per state; "Lock:advisory" = waiting for the append lock, which serialises every append)\n\n`);
    const kinds = [...new Set(all.flatMap((s) => s.pgActivity.shares.slice(0, 6).map((a) => a.what)))];
    out.write(
      table(
        ['app: state / wait / statement', ...all.map((s) => `@ ${label(s)}/s`)],
        [
          ['open connections', ...all.map((s) => s.pgActivity.connections.toFixed(1))],
          ['busy (not idle)', ...all.map((s) => s.pgActivity.busy.toFixed(2))],
          ...kinds.map((what) => [what, ...all.map((s) => (s.pgActivity.shares.find((a) => a.what === what)?.sessions ?? 0).toFixed(2))]),
        ],
      ) + '\n',
    );
    const last = shown[shown.length - 1] ?? all[all.length - 1];
    if (last && last.pgActivity.statements.length > 0) {
      const total = last.pgActivity.statements.reduce((sum, st) => sum + st.seen, 0);
      out.write(`\nStatements the apps sent to PostgreSQL @ ${label(last)}/s (a sample: each session's latest statement whenever it changed between two samples)\n\n`);
      out.write(table(['app: statement', 'share'], last.pgActivity.statements.slice(0, 12).map((st) => [st.what, pct((st.seen / total) * 100)])) + '\n');
    }
  }

  if (all.length > 0) {
    out.write('\nPostgreSQL work per answer, from the start of each step until drained (pg_stat_database: the whole database, other clients included)\n\n');
    const per = (value: number, step: MeridianStep) => (value / Math.max(1, step.answered)).toFixed(1);
    out.write(
      table(
        ['step', 'transactions/answer', 'rows scanned/answer', 'rows fetched/answer', 'rows inserted/answer', 'events stored/answer'],
        all.map((s) => [`@ ${label(s)}/s`, per(s.database.commits, s), per(s.database.rowsScanned, s), per(s.database.rowsFetched, s), per(s.database.rowsInserted, s), s.stages ? per(s.stages.eventsWritten, s) : '-']),
      ) + '\n',
    );
  }

  out.write(`\nCPU while sending (% of one core; this machine has ${cpus().length} cores = ${cpus().length * 100}%), and per answer from the start of a step until drained\n\n`);
  out.write(
    table(
      ['run', 'runtime', 'gateway', 'projector', 'postgres', 'kafka', 'redis', 'bench', 'others', 'machine', 'runtime CPU ms/answer', 'machine CPU ms/answer', 'syscalls/answer: runtime', 'projector'],
      [
        ...peer.steps.map((s) => [`peer @ ${formatRate(s.targetRate)}/s`, '-', '-', '-', pct(s.cpu.percent.postgres), pct(s.cpu.percent.kafka), pct(s.cpu.percent.redis), `${pct(s.cpu.percent.bench)} + ${pct(s.cpu.percent.consumer)} consumer`, pct(s.cpu.othersPercent), pct(s.cpu.machinePercent), '-', '-', '-', '-']),
        ...(run.idle
          ? [[`Meridian idle (${run.idle.seconds} s, no events)`, ...cpuCells(run.idle.cpu), '-', '-', '-', '-']]
          : []),
        ...all.map((s) => [
          `Meridian @ ${label(s)}/s`,
          ...cpuCells(s.cpuSending),
          (s.cpuTotal.ms.runtime / Math.max(1, s.answered)).toFixed(2),
          (((s.cpuTotal.machinePercent - s.cpuTotal.othersPercent) * s.cpuTotal.wallMs) / 100 / Math.max(1, s.answered)).toFixed(2),
          syscallsPerEvent(s, 'runtime'),
          syscallsPerEvent(s, 'projector'),
        ]),
      ],
    ) + '\n',
  );
  out.write('"machine CPU ms/answer": every process of the deployment (apps, PostgreSQL, Kafka, Redis, the bench) per answer; "others" (not the deployment) left out\n');
  if (run.idle) {
    const statements = run.idle.pgActivity.statements;
    const total = statements.reduce((sum, st) => sum + st.seen, 0);
    out.write(
      `idle deployment: ${run.idle.transactionsPerSecond.toFixed(0)} PostgreSQL transactions/s and ${formatRate(run.idle.rowsScannedPerSecond)} rows scanned/s with no events at all; ` +
        `its statements: ${statements.slice(0, 5).map((st) => `${st.what} ${pct((st.seen / Math.max(1, total)) * 100)}`).join(', ') || 'none seen'}\n`,
    );
  }

  // Side by side at the same target rates.
  const peerAt = (rate: number): PeerStep | undefined => peer.steps.find((s) => s.targetRate === rate);
  const ingestAt = (rate: number): MeridianStep | undefined => run.ingestSteps.find((s) => s.targetRate === rate);
  const agentsAt = (rate: number): MeridianStep | undefined => run.steps.find((s) => s.targetRate === rate);
  out.write('\n3. Raw kafkajs vs Meridian at the same target rate (events/s answered; p50 / p99 ms)\n\n');
  out.write(
    table(
      ['target/s', 'raw events/s', 'ingest-only events/s', 'agents events/s', 'agents / raw', 'raw p50/p99', 'ingest-only p50/p99', 'agents p50/p99', 'agents p99 / raw p99'],
      RATES.filter((rate) => peerAt(rate) || ingestAt(rate) || agentsAt(rate)).map((rate) => {
        const p = peerAt(rate);
        const i = ingestAt(rate);
        const a = agentsAt(rate);
        return [
          formatRate(rate),
          p ? formatRate(p.eventsPerSecond) : '-',
          i ? `${formatRate(i.visiblePerSecond)}${i.keptUp ? '' : ' (behind)'}` : 'not run',
          a ? `${formatRate(a.visiblePerSecond)}${a.keptUp ? '' : ' (behind)'}` : 'not run',
          p && a ? ratio(a.visiblePerSecond, p.eventsPerSecond) : '-',
          p ? `${ms(p.p50)} / ${ms(p.p99)}` : '-',
          i ? `${ms(i.p50)} / ${ms(i.p99)}` : '-',
          a ? `${ms(a.p50)} / ${ms(a.p99)}` : '-',
          p && a ? ratio(a.p99, p.p99) : '-',
        ];
      }),
    ) + '\n',
  );
  const sustained = [...run.steps].reverse().find((s) => s.keptUp);
  const sustainedIngest = [...run.ingestSteps].reverse().find((s) => s.keptUp);
  const best = run.steps.reduce<MeridianStep | undefined>((a, s) => (a === undefined || s.visiblePerSecond > a.visiblePerSecond ? s : a), undefined);
  const rawMax = peer.flatOut?.consumedPerSecond ?? Number.NaN;
  out.write('\n');
  out.write(
    table(
      ['throughput', 'events/s', 'vs raw flat out'],
      [
        ['raw kafkajs, flat out (the transport)', formatRate(rawMax), '100%'],
        [
          `Meridian, ingest path alone, sustained`,
          sustainedIngest ? `${formatRate(sustainedIngest.visiblePerSecond)} (kept up at ${formatRate(sustainedIngest.targetRate)}/s)` : 'no step kept up',
          sustainedIngest ? `${share(sustainedIngest.visiblePerSecond, rawMax)} (${ratio(sustainedIngest.visiblePerSecond, rawMax)})` : '-',
        ],
        [
          `Meridian with ${AGENTS} rules agents, sustained`,
          sustained ? `${formatRate(sustained.visiblePerSecond)} (kept up at ${formatRate(sustained.targetRate)}/s)` : 'no step kept up',
          sustained ? `${share(sustained.visiblePerSecond, rawMax)} (${ratio(sustained.visiblePerSecond, rawMax)})` : '-',
        ],
        ...(best && best !== sustained ? [[`Meridian with agents, best seen (not sustained, @ ${formatRate(best.targetRate)}/s)`, formatRate(best.visiblePerSecond), share(best.visiblePerSecond, rawMax)]] : []),
      ],
    ) + '\n',
  );

  const atTarget = run.steps.find((s) => s.targetRate === TARGET_RATE);
  const throughputMet = sustained !== undefined && sustained.targetRate >= TARGET_RATE;
  const latencyMet = atTarget !== undefined && atTarget.keptUp && atTarget.p99 < TARGET_P99_MS;
  const underP99 = [...run.steps].reverse().find((s) => s.keptUp && s.p99 < TARGET_P99_MS);
  out.write('\nDESIGN.md §9 target on this machine\n\n');
  out.write(
    table(
      ['target', 'measured', 'met'],
      [
        [`${formatRate(TARGET_RATE)} events/s sustained end to end (${AGENTS} rules agents)`, sustained ? `${formatRate(sustained.visiblePerSecond)} events/s (highest rate kept up: ${formatRate(sustained.targetRate)}/s)` : `no step kept up (best ${formatRate(best?.visiblePerSecond ?? Number.NaN)}/s)`, throughputMet ? 'met' : 'NOT MET'],
        [`ingest → reaction p99 < ${TARGET_P99_MS} ms at ${formatRate(TARGET_RATE)} events/s`, atTarget ? `${ms(atTarget.p99)} ms${atTarget.keptUp ? '' : ' (did not keep up)'}` : 'rate not reached', latencyMet ? 'met' : 'NOT MET'],
        [`highest rate with p99 < ${TARGET_P99_MS} ms (reported)`, underP99 ? `${formatRate(underP99.targetRate)} events/s (p99 ${ms(underP99.p99)} ms)` : 'none', '-'],
      ],
    ) + '\n',
  );
  out.write(
    `\n${throughputMet && latencyMet ? 'The target is MET' : 'The target is NOT MET'}: 10,000 events/s with p99 < 100 ms ` +
      `${throughputMet && latencyMet ? 'holds' : 'does not hold'} for the distributed mode on this ${cpus().length}-core machine.\n`,
  );
  out.write(
    `startup of the three apps: ${(run.startupMs / 1000).toFixed(1)} s; ${AGENTS} agents defined in ${ms(run.agentsDefinedMs)} ms; answers beyond one per event: ${run.unexpectedAnswers}; ` +
      `answers that came after their step's drain window: ${run.lateAnswers.reactions} reactions, ${run.lateAnswers.ingested} ingested events\n`,
  );
  for (const e of run.socketErrors) out.write(`WebSocket error from the gateway: ${e}\n`);
  for (const [app, log] of Object.entries(run.appLog)) {
    const lines = Object.entries(log).sort((a, b) => b[1] - a[1]);
    if (lines.length > 0) out.write(`${app} warnings/errors logged: ${lines.slice(0, 5).map(([msg, n]) => `${n}× ${msg.slice(0, 300)}`).join('; ')}\n`);
  }
  const profile = run.profile;
  if (profile) {
    out.write(`\nRuntime CPU profile over the agent steps (${profile.file}): ${(profile.totalMs / 1000).toFixed(1)} s sampled, ${pct((profile.idleMs / profile.totalMs) * 100)} idle, ${pct((profile.gcMs / profile.totalMs) * 100)} GC\n\n`);
    out.write(table(['self ms', 'self %', 'function', 'where'], profile.top.map((f) => [f.selfMs.toFixed(0), pct((f.selfMs / profile.totalMs) * 100), f.name, f.where])) + '\n');
    out.write('\nBy package / area (self time)\n\n');
    out.write(table(['self ms', 'self %', 'area'], profile.byArea.map((a) => [a.selfMs.toFixed(0), pct((a.selfMs / profile.totalMs) * 100), a.area])) + '\n');
  }
  const busy = all.some((s) => s.cpuSending.othersPercent > QUIET_CPU_PERCENT) || peer.steps.some((s) => s.cpu.othersPercent > QUIET_CPU_PERCENT);
  if (busy) out.write(`NOTE: other processes used more than ${QUIET_CPU_PERCENT}% of a core during some steps ("others"): those figures understate what this machine can do\n`);
  return { throughputMet, latencyMet };
}

async function main(): Promise<void> {
  const started = Date.now();
  progress(
    `distributed benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, broker ${KAFKA_BROKERS}, ` +
      `rates ${RATES.join(', ')} events/s, ${STEP_SECONDS} s a step (peer ${PEER_STEP_SECONDS} s), ${AGENTS} agents${QUICK ? ', quick' : ''}`,
  );
  const brokers = KAFKA_BROKERS.split(',');
  const kafka = benchKafka(brokers, 'meridian-bench');
  const probe = kafka.admin();
  try {
    await Promise.race([probe.connect(), sleep(10_000).then(() => Promise.reject(new Error('timed out')))]);
  } catch (error) {
    throw new Error(`no Kafka broker at ${KAFKA_BROKERS} (${error instanceof Error ? error.message : String(error)}): start one with scripts/kafka/kafka.sh start`);
  } finally {
    await probe.disconnect().catch(() => undefined);
  }

  const profileDir = CPU_PROFILE ? mkdtempSync(join(tmpdir(), 'meridian-bench-distributed-prof-')) : null;
  const run: MeridianRun = { startupMs: 0, agentsDefinedMs: 0, idle: null, warmUp: null, ingestSteps: [], steps: [], serialProbe: null, serialProbeBacklog: 0, profile: null, unexpectedAnswers: 0, lateAnswers: { reactions: 0, ingested: 0 }, socketErrors: [], appLog: {}, failure: null };
  let peer: PeerResult = { steps: [], flatOut: null, failure: 'not run' };
  let producer: Producer | null = null;
  let pg: Client | null = null;
  let bench: BenchDeployment | null = null;
  let othersBefore = 0;
  try {
    othersBefore = await waitForQuietMachine(null);
    progress('starting runtime, projector and gateway as separate processes');
    bench = await startDeployment({ partitions: PARTITIONS, runtimeCpuProfileDir: profileDir });
    run.startupMs = bench.startedMs;
    progress(`apps ready in ${(bench.startedMs / 1000).toFixed(1)} s: gateway ${bench.gateway.baseUrl} (pid ${bench.gateway.child.pid}), runtime pid ${bench.runtime.child.pid}, projector pid ${bench.projector.child.pid}; schema ${bench.deployment.schema}, topic prefix ${bench.deployment.topicPrefix}`);
    pg = new Client({ connectionString: bench.deployment.env.MERIDIAN_POSTGRES_URL });
    await pg.connect();

    peer = await runPeer({
      kafka,
      brokers,
      topic: `${bench.deployment.topicPrefix}.peer`,
      groupId: `${bench.deployment.topicPrefix}.peer-consumer`,
      partitions: bench.partitions.inbound,
      runId: `peer-${Date.now().toString(36)}`,
      shards: AGENTS,
      rates: RATES,
      stepSeconds: PEER_STEP_SECONDS,
      flatOutEvents: FLAT_OUT_EVENTS,
      flushMs: FLUSH_MS,
      maxInFlight: MAX_IN_FLIGHT,
      drainSeconds: DRAIN_SECONDS,
    });
    producer = await connectProducer(kafka);
    await runMeridian(bench, pg, producer, run, profileDir);
  } catch (error: unknown) {
    run.failure ??= error instanceof Error ? error.message : String(error);
    progress(`FAILED: ${run.failure}`);
  } finally {
    await producer?.disconnect().catch(() => undefined);
    await pg?.end().catch(() => undefined);
    if (bench) {
      for (const app of [bench.gateway, bench.runtime, bench.projector]) run.appLog[app.app] = warnLogSummary(app.output());
      progress('stopping the apps; dropping the schema, topics and consumer groups');
      await closeDeployment(bench).catch((error: unknown) => progress(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`));
    }
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  }
  if (!bench) throw new Error(run.failure ?? 'the deployment did not start');

  const out = process.stdout;
  const messageBytes = typicalMessageBytes('dist-xxxxxxxx', AGENTS);
  const { throughputMet, latencyMet } = printReport(out, bench, peer, run, messageBytes);
  out.write(`other processes before the run: ${othersBefore.toFixed(0)}% CPU; total run time: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);

  mkdirSync(join(RESULT_FILE, '..'), { recursive: true });
  writeFileSync(
    RESULT_FILE,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, node: process.version },
        config: { rates: RATES, stepSeconds: STEP_SECONDS, ingestStepSeconds: INGEST_STEP_SECONDS, peerStepSeconds: PEER_STEP_SECONDS, serialProbeEvents: SERIAL_PROBE_EVENTS, flatOutEvents: FLAT_OUT_EVENTS, agents: AGENTS, partitions: PARTITIONS, flushMs: FLUSH_MS, maxInFlight: MAX_IN_FLIGHT, drainSeconds: DRAIN_SECONDS, quick: QUICK, messageBytes },
        targets: { rate: TARGET_RATE, p99Ms: TARGET_P99_MS, throughputMet, latencyMet },
        peer,
        meridian: run,
      },
      null,
      2,
    ),
  );
  out.write(`results written to ${RESULT_FILE}\n`);
  if (run.failure !== null || peer.failure !== null || run.unexpectedAnswers > 0) {
    process.stderr.write('FAILED: a run crashed or an event got more than one reaction (see above)\n');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
