import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time per process from /proc (Linux), grouped by role: the three apps by pid, the services by
 * what they run (every `postgres` backend, `redis-server`, the Kafka broker's JVM), the benchmark
 * itself, and the rest of the machine. Read at the start and the end of a step; the difference over
 * the wall time is each role's share of one core.
 */

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on every mainstream Linux). */
const TICKS_PER_SECOND = 100;

export type CpuRole = 'bench' | 'gateway' | 'runtime' | 'projector' | 'consumer' | 'kafka' | 'postgres' | 'redis';

export const CPU_ROLES: readonly CpuRole[] = ['bench', 'gateway', 'runtime', 'projector', 'consumer', 'kafka', 'postgres', 'redis'];

export interface CpuSnapshot {
  readonly at: number;
  /** CPU time the whole machine spent busy, ms (every core). */
  readonly machineMs: number;
  /** CPU time per pid, ms, for the pids of every role. */
  readonly pids: ReadonlyMap<number, { readonly role: CpuRole; readonly ms: number }>;
  /** read/write system calls so far of the apps' pids (/proc/<pid>/io): every socket send and receive is one. */
  readonly io: ReadonlyMap<number, { readonly role: CpuRole; readonly reads: number; readonly writes: number }>;
}

export interface CpuUsage {
  readonly wallMs: number;
  /** % of one core per role (a 2-core machine has 200 %). */
  readonly percent: Readonly<Record<CpuRole, number>>;
  /** CPU ms per role over the interval. */
  readonly ms: Readonly<Record<CpuRole, number>>;
  /** read and write system calls of the apps (socket IO: queries, Kafka requests, Redis commands), per role. */
  readonly syscalls: Readonly<Partial<Record<CpuRole, { readonly reads: number; readonly writes: number }>>>;
  /** Everything else on the machine, % of one core. */
  readonly othersPercent: number;
  readonly machinePercent: number;
}

/** Total CPU time (user + system) of a process, ms; null once it is gone. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

function machineBusyMs(): number {
  const fields = (/^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? '').trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return ((user + nice + system + irq + softirq + steal) * 1000) / TICKS_PER_SECOND;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The services' pids, found by what they run (they are not children of the benchmark). */
export function servicePids(): Map<number, CpuRole> {
  const found = new Map<number, CpuRole>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const comm = readText(`/proc/${pid}/comm`)?.trim();
    if (comm === 'postgres') found.set(pid, 'postgres');
    else if (comm === 'redis-server') found.set(pid, 'redis');
    else if (comm === 'java' && (readText(`/proc/${pid}/cmdline`) ?? '').includes('kafka.Kafka')) found.set(pid, 'kafka');
  }
  return found;
}

/**
 * Reads every role's CPU time. `apps` are the benchmark's own children; the services are looked up
 * again each time (PostgreSQL backends come and go with the apps' pools).
 */
function processIo(pid: number): { reads: number; writes: number } | null {
  const text = readText(`/proc/${pid}/io`);
  if (text === null) return null;
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { reads: field('syscr'), writes: field('syscw') };
}

export function cpuSnapshot(apps: ReadonlyMap<number, CpuRole>): CpuSnapshot {
  const io = new Map<number, { role: CpuRole; reads: number; writes: number }>();
  for (const [pid, role] of apps) {
    const counts = processIo(pid);
    if (counts !== null) io.set(pid, { role, ...counts });
  }
  const pids = new Map<number, { role: CpuRole; ms: number }>();
  const own = process.cpuUsage();
  pids.set(process.pid, { role: 'bench', ms: (own.user + own.system) / 1000 });
  for (const [pid, role] of [...apps, ...servicePids()]) {
    const ms = processCpuMs(pid);
    if (ms !== null) pids.set(pid, { role, ms });
  }
  return { at: performance.now(), machineMs: machineBusyMs(), pids, io };
}

/** CPU used between two snapshots; a pid missing from `start` counts from zero only if it started meanwhile. */
export function cpuBetween(start: CpuSnapshot, end: CpuSnapshot): CpuUsage {
  const wallMs = Math.max(1, end.at - start.at);
  const ms = Object.fromEntries(CPU_ROLES.map((role) => [role, 0])) as Record<CpuRole, number>;
  for (const [pid, now] of end.pids) {
    const before = start.pids.get(pid);
    // A process that appeared during the interval (a new PostgreSQL backend) has used only what it shows.
    ms[now.role] += before ? Math.max(0, now.ms - before.ms) : now.ms;
  }
  const percent = Object.fromEntries(CPU_ROLES.map((role) => [role, (ms[role] / wallMs) * 100])) as Record<CpuRole, number>;
  const machinePercent = ((end.machineMs - start.machineMs) / wallMs) * 100;
  const ours = CPU_ROLES.reduce((sum, role) => sum + percent[role], 0);
  const syscalls: Partial<Record<CpuRole, { reads: number; writes: number }>> = {};
  for (const [pid, now] of end.io) {
    const before = start.io.get(pid);
    if (!before) continue;
    const sum = syscalls[now.role] ?? { reads: 0, writes: 0 };
    syscalls[now.role] = { reads: sum.reads + now.reads - before.reads, writes: sum.writes + now.writes - before.writes };
  }
  return { wallMs, percent, ms, syscalls, othersPercent: Math.max(0, machinePercent - ours), machinePercent };
}

/** CPU other processes (not the given roles) use, % of one core, over `ms`. */
export async function othersCpuPercent(apps: ReadonlyMap<number, CpuRole>, ms: number): Promise<number> {
  const start = cpuSnapshot(apps);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return cpuBetween(start, cpuSnapshot(apps)).othersPercent;
}
