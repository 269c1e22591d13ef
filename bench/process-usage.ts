import { processCpuSeconds, processIo, round2 } from "./proc-stats.js";

/** The processes a command passes through, measured apart. */
export const ROLES = ["worker", "database", "nats", "generator"] as const;
export type Role = (typeof ROLES)[number];

/** One process's counters at one moment. */
export interface ProcessReading {
  cpuS: number;
  /** Write system calls so far (/proc/<pid>/io `syscw`); undefined when unreadable. */
  syscw: number | undefined;
}

/** Counters of every process of every role at one moment. */
export type Snapshot = Record<Role, Map<number, ProcessReading>>;

/** What a role's processes used between two snapshots. */
export interface RoleUsage {
  cpuS: number;
  /** Null when some process's counters could not be read. */
  writeSyscalls: number | null;
  processes: number;
}

export type Usage = Record<Role, RoleUsage | null>;

/** Reads CPU time and write system calls of each role's processes from /proc. */
export function readSnapshot(pids: Record<Role, readonly number[]>, read = readProcess): Snapshot {
  const snapshot = {} as Snapshot;
  for (const role of ROLES) {
    const readings = new Map<number, ProcessReading>();
    for (const pid of new Set(pids[role])) {
      const reading = read(pid);
      if (reading) readings.set(pid, reading);
    }
    snapshot[role] = readings;
  }
  return snapshot;
}

function readProcess(pid: number): ProcessReading | undefined {
  const cpuS = processCpuSeconds(pid);
  return cpuS === undefined ? undefined : { cpuS, syscw: processIo(pid)?.syscw };
}

/**
 * Per role, what its processes used from `from` to `to`. A process first seen
 * at `to` started inside the window and counts from zero; one gone by `to`
 * took its last counts with it (a short-lived database session, for instance).
 */
export function usageBetween(from: Snapshot, to: Snapshot): Usage {
  const usage = {} as Usage;
  for (const role of ROLES) {
    if (to[role].size === 0) {
      usage[role] = null;
      continue;
    }
    let cpuS = 0;
    let writes: number | null = 0;
    for (const [pid, end] of to[role]) {
      const start = from[role].get(pid);
      cpuS += end.cpuS - (start?.cpuS ?? 0);
      if (writes !== null && end.syscw !== undefined && (start === undefined || start.syscw !== undefined)) writes += end.syscw - (start?.syscw ?? 0);
      else writes = null;
    }
    usage[role] = { cpuS: round2(cpuS), writeSyscalls: writes, processes: to[role].size };
  }
  return usage;
}

/** What one committed command cost each role: CPU in ms and write system calls. */
export interface PerCommand {
  cpuMs: Record<Role, number | null>;
  writes: Record<Role, number | null>;
  /** CPU of all four roles together, ms; null unless worker and database were both measured. */
  totalCpuMs: number | null;
}

const per = (value: number | null | undefined, committed: number, scale: number, digits: number): number | null =>
  value === null || value === undefined || committed <= 0 ? null : Math.round(((value * scale) / committed) * 10 ** digits) / 10 ** digits;

export function perCommand(usage: Usage, committed: number): PerCommand {
  const cpuMs = {} as PerCommand["cpuMs"];
  const writes = {} as PerCommand["writes"];
  for (const role of ROLES) {
    cpuMs[role] = per(usage[role]?.cpuS, committed, 1000, 3);
    writes[role] = per(usage[role]?.writeSyscalls, committed, 1, 2);
  }
  const total = cpuMs.worker !== null && cpuMs.database !== null ? ROLES.reduce((sum, r) => sum + (cpuMs[r] ?? 0), 0) : null;
  return { cpuMs, writes, totalCpuMs: total === null ? null : Math.round(total * 1000) / 1000 };
}
