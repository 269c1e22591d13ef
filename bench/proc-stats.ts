import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Kernel clock ticks per second, the unit of /proc CPU times (100 almost everywhere). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Clock ticks (user + system) in the text of /proc/<pid>/stat; undefined when it does not parse. */
export function statCpuTicks(stat: string): number | undefined {
  // The command name may hold spaces and parentheses: count fields after the last ')'.
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

/** CPU seconds (user + system) a process has used so far; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const ticks = statCpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return ticks === undefined ? undefined : ticks / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Write and read system calls (`syscw`, `syscr`) in the text of /proc/<pid>/io. */
export function parseIo(text: string): { syscw: number; syscr: number } | undefined {
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, "m").exec(text)?.[1] ?? NaN);
  const syscw = field("syscw");
  const syscr = field("syscr");
  return Number.isFinite(syscw) && Number.isFinite(syscr) ? { syscw, syscr } : undefined;
}

/** System calls a process has made so far (needs the same user or root); undefined when unreadable. */
export function processIo(pid: number): { syscw: number; syscr: number } | undefined {
  try {
    return parseIo(readFileSync(`/proc/${pid}/io`, "utf8"));
  } catch {
    return undefined;
  }
}

/** Direct children of a process, from every thread's `children` list. */
export function childPids(pid: number): number[] {
  try {
    const pids: number[] = [];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
    return pids;
  } catch {
    return [];
  }
}

/** A process and all its descendants (a supervisor and its workers). */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childPids(all[i]!));
  return all;
}

/** The parent of a process, from /proc/<pid>/stat. */
export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** A process's command line, arguments joined by spaces (PostgreSQL writes its process title there). */
export function processTitle(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ").trim();
  } catch {
    return undefined;
  }
}

/**
 * Whether a PostgreSQL process is a server-wide helper whose work a load on
 * `database` causes: the WAL writer, checkpointer, background writer, WAL
 * senders, and autovacuum workers of that database. Client backends are not
 * (the target's are found by their sessions; other users of a shared server
 * are none of the run's business). A client backend's title is
 * "postgres: [cluster: ]user database host(port) activity".
 */
export function isServerHelper(title: string, database: string): boolean {
  if (!title.startsWith("postgres")) return false;
  const words = title.split(/\s+/);
  if (words.some((w) => /^(\[local\]|[\w.:-]+\(\d+\))$/.test(w))) return false;
  return !title.includes("autovacuum worker") || words.includes(database);
}

/** The inodes of sockets listening on `port` in the text of /proc/net/tcp or tcp6. */
export function listeningInodes(table: string, port: number): number[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes: number[] = [];
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
    if (f.length > 9 && f[1]!.endsWith(`:${hexPort}`) && f[3] === "0A") inodes.push(Number(f[9]));
  }
  return inodes;
}

/** The process listening on a TCP port on this machine (e.g. nats-server), if readable. */
export function listeningPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      for (const inode of listeningInodes(readFileSync(table, "utf8"), port)) if (inode > 0) inodes.add(`socket:[${inode}]`);
    } catch {
      // No IPv6 table: fine.
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        if (inodes.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) return Number(entry);
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  return undefined;
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
