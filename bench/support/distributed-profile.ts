import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * A CPU profile of one app process over the part of the run that matters. Node refuses
 * `--cpu-prof` in NODE_OPTIONS, and a profile from start to exit would be mostly TypeScript
 * compilation; instead the app is started with a small preload (`--require`, allowed in
 * NODE_OPTIONS) that starts V8's sampling profiler on the first SIGWINCH and writes the profile
 * (`<dir>/<pid>.cpuprofile`, the format `--cpu-prof` writes) on the second. SIGWINCH because its
 * default action is to be ignored and Nest's shutdown hooks do not listen to it (they take SIGUSR2).
 *
 * The summary sums self time per function and per area (an npm package, a folder of libs/ or
 * apps/, Node's internals), so the benchmark can print where the process spent its CPU without
 * opening a profiler.
 */

const PRELOAD = `'use strict';
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');
const dir = process.env.BENCH_PROFILE_DIR;
let session = null;
process.on('SIGWINCH', () => {
  if (session === null) {
    session = new inspector.Session();
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.setSamplingInterval', { interval: 1000 });
    session.post('Profiler.start');
    return;
  }
  session.post('Profiler.stop', (error, result) => {
    if (!error) fs.writeFileSync(path.join(dir, process.pid + '.cpuprofile'), JSON.stringify(result.profile));
    session.disconnect();
    session = null;
  });
});
`;

/** Env that makes an app process profilable with `toggleProfiler` (the preload is written to `dir`). */
export function profilerEnv(dir: string): Record<string, string> {
  const preload = join(dir, 'profiler-preload.js');
  writeFileSync(preload, PRELOAD);
  return { NODE_OPTIONS: `--require ${preload}`, BENCH_PROFILE_DIR: dir };
}

/** First call starts the profiler of `pid`, the second writes `<dir>/<pid>.cpuprofile`. */
export function toggleProfiler(pid: number): void {
  process.kill(pid, 'SIGWINCH');
}

/** The profile `pid` wrote to `dir`, waiting a little for it; null if none came. */
export async function profileWritten(dir: string, pid: number, waitMs = 10_000): Promise<string | null> {
  const deadline = performance.now() + waitMs;
  const file = join(dir, `${pid}.cpuprofile`);
  while (performance.now() < deadline) {
    if (existsSync(file) && readdirSync(dir).includes(`${pid}.cpuprofile`)) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return file;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  /** Where the profile was kept for a closer look (Chrome DevTools, speedscope). */
  readonly file: string;
  readonly totalMs: number;
  readonly idleMs: number;
  readonly gcMs: number;
  readonly top: { readonly name: string; readonly where: string; readonly selfMs: number }[];
  readonly byArea: { readonly area: string; readonly selfMs: number }[];
}

const ROOT = resolve(__dirname, '..', '..');

function areaOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = path.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? 'node_modules');
  }
  const match = /\/(libs|apps)\/([^/]+)\/src\/([^/]+)/.exec(path);
  if (match) return `${match[1]}/${match[2]}/${match[3]?.endsWith('.ts') ? '' : match[3]}`.replace(/\/$/, '');
  return 'other';
}

function whereOf(url: string, line: number): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const shown = path.startsWith(`${ROOT}/`) ? path.slice(ROOT.length + 1) : path;
  return `${shown}:${line + 1}`;
}

export function summarizeCpuProfile(path: string, keepAs: string, topN = 25): ProfileSummary {
  copyFileSync(path, keepAs);
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + delta);
  }
  const functions = new Map<string, { name: string; where: string; selfUs: number }>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let gcUs = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    if (name === '(idle)') idleUs += us;
    if (name === '(garbage collector)') gcUs += us;
    const key = `${name}\n${url}\n${lineNumber}`;
    const entry = functions.get(key) ?? { name, where: whereOf(url, lineNumber), selfUs: 0 };
    entry.selfUs += us;
    functions.set(key, entry);
    const area = areaOf(url, name);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  return {
    file: keepAs,
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    gcMs: gcUs / 1000,
    top: [...functions.values()]
      .filter((f) => f.name !== '(idle)')
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, topN)
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.selfUs / 1000 })),
    byArea: [...areas.entries()]
      .filter(([area]) => area !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([area, us]) => ({ area, selfMs: us / 1000 })),
  };
}
