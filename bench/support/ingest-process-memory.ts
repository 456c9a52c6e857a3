import { readFileSync } from 'node:fs';

/** A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`), or null once the process is gone. */
export function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Samples a process's resident memory every `everyMs` and keeps the peak. The kernel's own
 * high-water mark (VmHWM) is read at the end as well: it also catches peaks between samples.
 */
export class RssSampler {
  private peakSampled = 0;
  private last = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    everyMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  /** Latest sampled RSS, bytes. */
  current(): number {
    return this.last;
  }

  /** Stops sampling; the peak is the larger of the sampled peak and VmHWM (while the process lives). */
  stop(): { peakBytes: number; lastBytes: number } {
    clearInterval(this.timer);
    this.sample();
    const hwm = procStatusBytes(this.pid, 'VmHWM') ?? 0;
    return { peakBytes: Math.max(this.peakSampled, hwm), lastBytes: this.last };
  }

  private sample(): void {
    const rss = procStatusBytes(this.pid, 'VmRSS');
    if (rss === null) return;
    this.last = rss;
    if (rss > this.peakSampled) this.peakSampled = rss;
  }
}

export function formatMiB(bytes: number): string {
  return bytes > 0 ? `${(bytes / 1024 / 1024).toFixed(0)} MiB` : '-';
}
