/** Latency percentiles in ms, rounded to 0.01 ms; null where there were no samples. */
export interface LatencySummary {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** Collects samples in a growable typed array (cheap even at hundreds of thousands). */
export class LatencyRecorder {
  private values = new Float64Array(1024);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    const sorted = this.values.slice(0, this.n).sort();
    // Nearest-rank percentile: the smallest sample with at least p% at or below it.
    const at = (p: number): number | null => (this.n === 0 ? null : round(sorted[Math.min(this.n - 1, Math.ceil((p / 100) * this.n) - 1)]!));
    return { count: this.n, p50: at(50), p95: at(95), p99: at(99), max: this.n === 0 ? null : round(sorted[this.n - 1]!) };
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
