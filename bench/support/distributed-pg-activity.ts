import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Client } from 'pg';
import type { CpuRole } from './distributed-cpu';

/**
 * What the deployment's PostgreSQL sessions are doing, sampled from `pg_stat_activity` a few
 * times a second while a step runs: how many are running, waiting for the append lock (an
 * advisory lock: every event append in the deployment is serialised by it), waiting for the WAL
 * flush of a commit, idle inside a transaction, and so on. A session belongs to the app whose
 * process holds its client socket (the TCP port in `client_port`, found in /proc), so every pool
 * is seen, whatever `application_name` it sets.
 */

const POSTGRES_PORT = 5432;

/** Local TCP ports of `pid`'s connections to PostgreSQL (Linux /proc). */
function postgresClientPorts(pid: number, tcp: ReadonlyMap<string, { local: number; remote: number }>): number[] {
  const ports: number[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return ports;
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    const socket = inode === undefined ? undefined : tcp.get(inode);
    if (socket && socket.remote === POSTGRES_PORT) ports.push(socket.local);
  }
  return ports;
}

/** Every TCP socket of the machine by inode: its local and remote port. */
function tcpSockets(): Map<string, { local: number; remote: number }> {
  const sockets = new Map<string, { local: number; remote: number }>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const local = parseInt(fields[1]?.split(':')[1] ?? '', 16);
      const remote = parseInt(fields[2]?.split(':')[1] ?? '', 16);
      sockets.set(fields[9] as string, { local, remote });
    }
  }
  return sockets;
}

export interface ActivityShare {
  /** `state` or the wait (`Lock:advisory`, `IO:WALSync`…) and the statement's first words. */
  readonly what: string;
  /** Sessions in that state, on average over the samples. */
  readonly sessions: number;
}

export interface ActivitySummary {
  readonly samples: number;
  /**
   * What the sessions ran, from their latest statement each time it changed between two samples:
   * a sample of the statements (at most one per session per sample), not a count; its shares show
   * which statements dominate. Sorted by how often seen.
   */
  readonly statements: { readonly what: string; readonly seen: number }[];
  /** Sessions of the deployment on average (open connections, idle included). */
  readonly connections: number;
  /** Busy sessions (not idle) on average. */
  readonly busy: number;
  readonly shares: ActivityShare[];
}

function statementKind(query: string): string {
  const text = query.replace(/\s+/g, ' ').trim().toLowerCase();
  if (text.startsWith('select pg_advisory_xact_lock')) return 'append lock';
  if (text.startsWith('insert into') && text.includes('.events')) return 'insert events';
  if (text.startsWith('insert into') || text.startsWith('update') || text.startsWith('delete')) return `write ${/(?:into|update|from) ("?[\w.]+"?(?:\."?[\w]+"?)?)/.exec(text)?.[1]?.replace(/"/g, '').split('.').pop() ?? ''}`;
  if (text.includes('from unnest($1::text[]) as s(name)')) return 'append lookup';
  if (text === 'commit' || text === 'begin' || text === 'rollback') return text;
  if (text.startsWith('select coalesce(max(position)')) return 'head position';
  if (text.startsWith('select') && text.includes('.events where position > $1')) return 'read all (a subscription)';
  if (text.startsWith('select') && text.includes('.events')) return 'read stream';
  if (text.startsWith('select')) return `read ${/from ("?[\w.]+"?(?:\."?[\w]+"?)?)/.exec(text)?.[1]?.replace(/"/g, '').split('.').pop() ?? ''}`;
  return text.split(' ').slice(0, 2).join(' ');
}

export class PgActivitySampler {
  private timer: NodeJS.Timeout | null = null;
  private samples = 0;
  private connections = 0;
  private busy = 0;
  private readonly counts = new Map<string, number>();
  private readonly statementsSeen = new Map<string, number>();
  private readonly lastStart = new Map<number, string>();
  private running: Promise<void> | null = null;

  constructor(
    private readonly pg: Client,
    /** The apps' pids. */
    private readonly apps: ReadonlyMap<number, CpuRole>,
    private readonly everyMs = 200,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sample()
        .catch(() => undefined)
        .finally(() => (this.running = null));
    }, this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<ActivitySummary> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    const n = Math.max(1, this.samples);
    return {
      samples: this.samples,
      statements: [...this.statementsSeen.entries()].map(([what, seen]) => ({ what, seen })).sort((a, b) => b.seen - a.seen),
      connections: this.connections / n,
      busy: this.busy / n,
      shares: [...this.counts.entries()].map(([what, count]) => ({ what, sessions: count / n })).sort((a, b) => b.sessions - a.sessions),
    };
  }

  private async sample(): Promise<void> {
    const tcp = tcpSockets();
    const appByPort = new Map<number, CpuRole>();
    for (const [pid, role] of this.apps) for (const port of postgresClientPorts(pid, tcp)) appByPort.set(port, role);
    const { rows: all } = await this.pg.query<{ pid: number; port: number | null; started: string | null; state: string | null; wait_event_type: string | null; wait_event: string | null; query: string }>(
      `select pid, client_port as port, query_start::text as started, state, wait_event_type, wait_event, query from pg_stat_activity
        where datname = current_database() and backend_type = 'client backend' and client_port = any($1::int[])`,
      [[...appByPort.keys()]],
    );
    const rows = all.map((row) => ({ ...row, app: appByPort.get(row.port ?? -1) ?? 'unknown' }));
    this.samples++;
    this.connections += rows.length;
    for (const row of rows) {
      const app = row.app;
      if (row.started !== null && this.lastStart.get(row.pid) !== row.started) {
        const what = `${app}: ${statementKind(row.query)}`;
        if (this.lastStart.has(row.pid)) this.statementsSeen.set(what, (this.statementsSeen.get(what) ?? 0) + 1);
        this.lastStart.set(row.pid, row.started);
      }
      if (row.state === 'idle') continue;
      this.busy++;
      const wait = row.wait_event_type ? `${row.wait_event_type}:${row.wait_event ?? ''}` : 'running';
      const key = `${app}: ${row.state === 'active' ? '' : `${row.state} / `}${wait} / ${statementKind(row.query)}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
  }
}
