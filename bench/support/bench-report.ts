/** Small helpers shared by the benchmarks: progress on stderr, a result table on stdout. */

export function progress(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  return perSecond >= 10_000 ? `${(perSecond / 1000).toFixed(1)}k` : perSecond.toFixed(0);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Renders rows as an aligned plain-text table (numbers right-aligned). */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = headers.map((_, i) => rows.every((r) => /^[-\d.,k%×x]+$/.test(r[i])));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Milliseconds since `start` (from `process.hrtime.bigint()`). */
export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** A positive number from an environment variable, or the fallback. */
export function positiveNumber(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** A comma-separated list of positive rates from an environment variable, or the fallback. */
export function rateList(value: string | undefined, fallback: readonly number[]): number[] {
  if (!value) return [...fallback];
  const rates = value.split(',').map((r) => Number(r.trim()));
  return rates.every((r) => Number.isFinite(r) && r > 0) ? rates : [...fallback];
}

/** A server's warn/error log lines, counted by message (pino JSON lines at level >= 40). */
export function warnLogSummary(output: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; err?: { code?: unknown; name?: unknown } };
      if (typeof entry.level !== 'number' || entry.level < 40) continue;
      const reason = entry.err ? ` (${String(entry.err.code ?? entry.err.name)})` : '';
      const key = `${String(entry.msg)}${reason}`;
      counts[key] = (counts[key] ?? 0) + 1;
    } catch {
      // Not a log line.
    }
  }
  return counts;
}
