import { readFileSync } from "node:fs";

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS); undefined once it is gone. */
export function readRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

export const mib = (bytes: number | undefined): string => (bytes === undefined ? "n/a" : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

/** Samples a process's RSS on a timer and keeps the peak; the timer never holds the event loop open. */
export class RssSampler {
  peak = 0;
  last: number | undefined;
  samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 25,
  ) {}

  /** Takes one sample now and returns it. */
  sample(): number | undefined {
    const rss = readRss(this.pid);
    this.last = rss;
    if (rss !== undefined) {
      this.samples++;
      if (rss > this.peak) this.peak = rss;
    }
    return rss;
  }

  start(): this {
    this.sample();
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Starts a new peak from the current value (e.g. after a warm-up). */
  resetPeak(): void {
    this.peak = 0;
    this.sample();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
