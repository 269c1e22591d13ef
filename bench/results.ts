import { readFile, writeFile, mkdir } from "node:fs/promises";
import { cpus, loadavg, totalmem, release, platform } from "node:os";
import { join } from "node:path";
import type { CdcBenchResult } from "./cdc/run-cdc.js";
import type { Comparator, Profile, Scenario } from "./options.js";
import type { RunResult } from "./run-one.js";
import { RESULTS_DIR } from "./settings.js";

/** Everything one bench invocation measured: what latest.json holds. */
export interface BenchResults {
  version: 1;
  date: string;
  mode: "full" | "quick" | "custom";
  elapsedS: number;
  machine: MachineInfo;
  settings: {
    durationS: number;
    warmupS: number;
    poolSize: number;
    accounts: Record<Scenario, number>;
    initialBalance: number;
    maxAmount: number;
    requestTimeoutMs: number;
    database: string;
    /** The PostgreSQL profiles used, their settings beyond the server's defaults, and which delaying proxy ran. */
    profiles?: Record<string, { database: string; settings: Record<string, string | number>; proxy: "native" | "node" | null }>;
    nats: string;
    /** HERALD_* variables the worker inherited (tuning experiments), besides the pinned pool size. */
    heraldEnvironment: Record<string, string>;
    /** Names of OTEL_* variables set (tracing costs; values may hold secrets, so names only). */
    otelVariables: string[];
    /** Which Herald was measured: the checkout's commit and when dist/ was built from it. */
    herald: { commit: string | null; builtAt: string; srcChangedAfterBuild: boolean };
  };
  runs: RunResult[];
  /** The CDC benchmark (bench/cdc/run-cdc.ts), or why it could not run; absent in results from before it was recorded. */
  cdc?: CdcBenchResult | { error: string };
  /** Every warning of every run, prefixed with the run. */
  warnings: string[];
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  node: string;
  os: string;
  /** 1-minute load average before and after: other work on the machine shows here. */
  loadAverageBefore: number;
  loadAverageAfter: number;
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${platform()} ${release()}`,
    loadAverageBefore: Math.round(loadavg()[0]! * 100) / 100,
    loadAverageAfter: Math.round(loadavg()[0]! * 100) / 100,
  };
}

export const LATEST_JSON = join(RESULTS_DIR, "latest.json");
export const LATEST_SVG = join(RESULTS_DIR, "latest.svg");

export async function saveResults(results: BenchResults): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(LATEST_JSON, `${JSON.stringify(results, null, 2)}\n`);
}

export async function loadResults(path = LATEST_JSON): Promise<BenchResults> {
  return JSON.parse(await readFile(path, "utf8")) as BenchResults;
}

/** Where a run's database was: its profile and the one-way latency in front of it (null: direct). */
export interface Placement {
  profile: Profile;
  latencyMs: number | null;
}
const DIRECT_DEFAULT: Placement = { profile: "default", latencyMs: null };

export const placementOf = (r: RunResult): Placement => ({ profile: r.profile ?? "default", latencyMs: r.latencyMs ?? null });

/** The run of a comparator at a scenario and concurrency, if it was measured (default: the default profile, direct). */
export function findRun(results: BenchResults, scenario: Scenario, clients: number, comparator: Comparator, where: Placement = DIRECT_DEFAULT): RunResult | undefined {
  return results.runs.find((r) => {
    const p = placementOf(r);
    // A run with several worker processes is its own point, never the one-process figure.
    return r.scenario === scenario && r.clients === clients && r.comparator === comparator && p.profile === where.profile && p.latencyMs === where.latencyMs && r.processes === undefined;
  });
}

/** Committed/s of a completed run, else null. */
export const throughput = (run: RunResult | undefined): number | null => (run?.completed && run.load ? run.load.window.committedPerSec : null);

/** The concurrency levels measured in a scenario on the default profile, direct, ascending. */
export const clientLevels = (results: BenchResults, scenario: Scenario): number[] =>
  [...new Set(results.runs.filter((r) => r.scenario === scenario && placementOf(r).profile === "default" && placementOf(r).latencyMs === null).map((r) => r.clients))].sort(
    (a, b) => a - b,
  );

/** a / b to two decimals, or null. */
export const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : Math.round((a / b) * 100) / 100);
