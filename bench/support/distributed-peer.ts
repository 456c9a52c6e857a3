import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { progress } from './bench-report';
import { cpuBetween, cpuSnapshot, type CpuRole, type CpuUsage } from './distributed-cpu';
import { connectProducer, eventMessage, produceFlatOut, produceOpenLoop, sleep } from './distributed-load';
import type { PeerConsumerMessage } from './distributed-peer-consumer';
import { SeqTracker } from './distributed-reactions';
import { percentile } from './ingest-http-load';

/**
 * The transport's own limit, measured in the same run on the same broker: the benchmark's producer
 * writes the same CloudEvents messages (same size, key, header) to a fresh topic with as many
 * partitions as `<prefix>.inbound`, and a consumer group in its own process reads them back with
 * the runtime's consumer settings. Open loop at the same target rates as Meridian (latency:
 * produce request sent → batch received), then flat out (throughput).
 */

const ROOT = join(__dirname, '..', '..');

export interface PeerOptions {
  readonly kafka: Kafka;
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly groupId: string;
  readonly partitions: number;
  readonly runId: string;
  readonly shards: number;
  readonly rates: readonly number[];
  readonly stepSeconds: number;
  readonly flatOutEvents: number;
  readonly flushMs: number;
  readonly maxInFlight: number;
  readonly drainSeconds: number;
}

export interface PeerStep {
  readonly targetRate: number;
  readonly sent: number;
  readonly received: number;
  /** Received events per second, first send → last received. */
  readonly eventsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly produceAckP99: number;
  readonly cpu: CpuUsage;
  readonly keptUp: boolean;
}

export interface PeerFlatOut {
  readonly events: number;
  readonly received: number;
  /** Produced (acknowledged) per second. */
  readonly producedPerSecond: number;
  /** Received per second, first send → last received. */
  readonly consumedPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpu: CpuUsage;
}

export interface PeerResult {
  readonly steps: PeerStep[];
  flatOut: PeerFlatOut | null;
  failure: string | null;
}

class PeerConsumer {
  fatal: string | null = null;
  private readyResolve: () => void = () => undefined;
  readonly ready = new Promise<void>((resolve) => (this.readyResolve = resolve));
  private output = '';

  constructor(
    readonly child: ChildProcess,
    tracker: SeqTracker,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-5000)));
    child.stderr?.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-5000)));
    child.on('message', (message: PeerConsumerMessage) => {
      if (message.kind === 'ready') this.readyResolve();
      else if (message.kind === 'error') this.fatal ??= `peer consumer: ${message.detail}`;
      else for (let i = 0; i < message.pairs.length; i += 2) tracker.answer(message.pairs[i] as number, message.pairs[i + 1] as number);
    });
    child.once('exit', (code, signal) => {
      this.fatal ??= `peer consumer exited (code ${code}, signal ${signal}):\n${this.output}`;
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.kill('SIGTERM');
    });
  }
}

function startConsumer(options: PeerOptions, tracker: SeqTracker): PeerConsumer {
  const child = spawn(process.execPath, ['--max-semi-space-size=64', require.resolve('ts-node/dist/bin.js'), '--swc', '-r', 'tsconfig-paths/register', join(__dirname, 'distributed-peer-consumer.ts')], {
    cwd: ROOT,
    env: { ...process.env, BENCH_PEER_BROKERS: options.brokers.join(','), BENCH_PEER_TOPIC: options.topic, BENCH_PEER_GROUP: options.groupId, BENCH_PEER_PARTITIONS: String(options.partitions) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return new PeerConsumer(child, tracker);
}

async function waitFor(done: () => boolean, limitMs: number, fatal: () => string | null): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  while (performance.now() < deadline) {
    const reason = fatal();
    if (reason) throw new Error(reason);
    if (done()) return true;
    await sleep(20);
  }
  return done();
}

export async function runPeer(options: PeerOptions): Promise<PeerResult> {
  const result: PeerResult = { steps: [], flatOut: null, failure: null };
  const capacity = Math.ceil(options.rates.reduce((sum, rate) => sum + rate * options.stepSeconds * 1.6 + rate, 0)) + options.flatOutEvents + 1000;
  const tracker = new SeqTracker(capacity);
  const admin = options.kafka.admin();
  await admin.connect();
  let consumer: PeerConsumer | null = null;
  // Its own producer: one that has written to a topic deleted later keeps asking for its metadata, and fails.
  let producer: Producer | null = null;
  try {
    producer = await connectProducer(options.kafka);
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: options.topic, numPartitions: options.partitions, replicationFactor: 1 }] });
    consumer = startConsumer(options, tracker);
    const pc = consumer;
    const roles = new Map<number, CpuRole>([[pc.child.pid ?? 0, 'consumer']]);
    await Promise.race([pc.ready, sleep(60_000).then(() => Promise.reject(new Error('the peer consumer did not join its group within 60 s')))]);
    const build = (seq: number, sentAt: number) => eventMessage(options.runId, seq, options.shards, sentAt);
    // A short warm-up: connections, metadata, JIT.
    let seq = 0;
    const warm = Math.max(200, Math.round(options.rates[0] ?? 1000));
    await produceOpenLoop({ producer, topic: options.topic, rate: warm, events: warm, firstSeq: seq, build, flushMs: options.flushMs, maxInFlight: options.maxInFlight, deadlineMs: 5000, onSent: (f, c, at) => tracker.markSent(f, c, at) });
    await waitFor(() => tracker.pendingIn(0, warm) === 0, 10_000, () => pc.fatal);
    seq = warm;

    for (const rate of options.rates) {
      const events = Math.round(rate * options.stepSeconds);
      progress(`peer (raw kafkajs) @ ${rate}/s: ${events} events to ${options.topic}`);
      const cpuStart = cpuSnapshot(roles);
      const from = seq;
      const sent = await produceOpenLoop({
        producer,
        topic: options.topic,
        rate,
        events,
        firstSeq: from,
        build,
        flushMs: options.flushMs,
        maxInFlight: options.maxInFlight,
        deadlineMs: options.stepSeconds * 1500 + 1000,
        onSent: (f, c, at) => tracker.markSent(f, c, at),
        shouldStop: () => pc.fatal !== null,
      });
      seq += events;
      const cpu = cpuBetween(cpuStart, cpuSnapshot(roles));
      const drained = await waitFor(() => tracker.pendingIn(from, from + sent.sent) === 0, options.drainSeconds * 1000, () => pc.fatal);
      const stats = tracker.stats(from, from + sent.sent);
      const eventsPerSecond = (stats.answered / Math.max(1, stats.lastAnsweredAt - stats.firstSentAt)) * 1000;
      const step: PeerStep = {
        targetRate: rate,
        sent: sent.sent,
        received: stats.answered,
        eventsPerSecond,
        p50: percentile(stats.latencyMs, 50),
        p99: percentile(stats.latencyMs, 99),
        max: percentile(stats.latencyMs, 100),
        produceAckP99: percentile(sent.ackMs, 99),
        cpu,
        keptUp: drained && sent.sent === events && eventsPerSecond >= 0.9 * rate,
      };
      result.steps.push(step);
      progress(
        `  peer @ ${rate}/s: ${step.received}/${step.sent} received, ${step.eventsPerSecond.toFixed(0)} events/s, produce→consume p50/p99 ${step.p50.toFixed(1)}/${step.p99.toFixed(1)} ms ` +
          `(produce ack p99 ${step.produceAckP99.toFixed(1)} ms), CPU bench ${cpu.percent.bench.toFixed(0)}% consumer ${cpu.percent.consumer.toFixed(0)}% kafka ${cpu.percent.kafka.toFixed(0)}%`,
      );
    }

    progress(`peer (raw kafkajs) flat out: ${options.flatOutEvents} events, requests of 1000, 8 in flight`);
    const cpuStart = cpuSnapshot(roles);
    const from = seq;
    const flat = await produceFlatOut(producer, options.topic, options.flatOutEvents, 1000, 8, (s, at) => {
      const message = build(from + s, at);
      tracker.markSent(from + s, 1, at);
      return message;
    });
    await waitFor(() => tracker.pendingIn(from, from + options.flatOutEvents) === 0, options.drainSeconds * 1000, () => pc.fatal);
    const cpu = cpuBetween(cpuStart, cpuSnapshot(roles));
    const stats = tracker.stats(from, from + options.flatOutEvents);
    result.flatOut = {
      events: options.flatOutEvents,
      received: stats.answered,
      producedPerSecond: (options.flatOutEvents / Math.max(1, flat.endedAt - flat.startedAt)) * 1000,
      consumedPerSecond: (stats.answered / Math.max(1, stats.lastAnsweredAt - stats.firstSentAt)) * 1000,
      p50: percentile(stats.latencyMs, 50),
      p99: percentile(stats.latencyMs, 99),
      cpu,
    };
    progress(
      `  peer flat out: produced ${result.flatOut.producedPerSecond.toFixed(0)}/s, consumed ${result.flatOut.consumedPerSecond.toFixed(0)}/s (${stats.answered}/${options.flatOutEvents}), ` +
        `CPU bench ${cpu.percent.bench.toFixed(0)}% consumer ${cpu.percent.consumer.toFixed(0)}% kafka ${cpu.percent.kafka.toFixed(0)}%`,
    );
    if (tracker.unexpected > 0) progress(`  peer: ${tracker.unexpected} messages received twice or unknown`);
  } catch (error: unknown) {
    result.failure = error instanceof Error ? error.message : String(error);
    progress(`peer FAILED: ${result.failure}`);
  } finally {
    await consumer?.stop();
    await producer?.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [options.topic] }).catch(() => undefined);
    await admin.deleteGroups([options.groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return result;
}

