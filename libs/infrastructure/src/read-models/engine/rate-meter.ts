/**
 * Recent throughput of a rebuild: positions per second over a sliding window of (position, time)
 * samples, so the rate and the ETA follow the current speed rather than the average since the start.
 */
export class RateMeter {
  private readonly samples: Array<{ readonly position: number; readonly at: number }> = [];

  constructor(private readonly windowMs = 10_000) {}

  sample(position: number, at: number): void {
    this.samples.push({ position, at });
    while (this.samples.length > 2 && at - this.samples[1].at > this.windowMs) this.samples.shift();
  }

  /** Positions per second over the window; 0 until two samples are apart in time. */
  rate(now: number): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const elapsedMs = Math.max(last.at, Math.min(now, last.at + this.windowMs)) - first.at;
    if (elapsedMs <= 0) return 0;
    return ((last.position - first.position) * 1000) / elapsedMs;
  }
}
