import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Kernel clock ticks per second, the unit of /proc CPU times (100 almost everywhere). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Resident memory now and its high-water mark, in MiB. */
export function processMemoryMb(pid: number): { rssMb: number; peakRssMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? NaN);
    return { rssMb: round1(kb("VmRSS") / 1024), peakRssMb: round1(kb("VmHWM") / 1024) };
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU counters, to tell how busy all cores were during a run. */
export interface MachineCpu {
  busy: number;
  /** Idle time spent waiting for disk I/O (a stalled fsync shows here, not as busy). */
  iowait: number;
  total: number;
}

export function machineCpu(): MachineCpu | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, iowait: values[4] ?? 0, total };
  } catch {
    return undefined;
  }
}

/** Percent of all cores busy, and waiting for I/O, between two readings. */
export function cpuPercents(from: MachineCpu | undefined, to: MachineCpu | undefined): { busy: number; iowait: number } | null {
  if (!from || !to || to.total === from.total) return null;
  const pct = (a: number, b: number) => Math.round(((b - a) / (to.total - from.total)) * 1000) / 10;
  return { busy: pct(from.busy, to.busy), iowait: pct(from.iowait, to.iowait) };
}

export const round1 = (n: number): number => Math.round(n * 10) / 10;
export const round2 = (n: number): number => Math.round(n * 100) / 100;
