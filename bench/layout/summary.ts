import { CANDIDATES, LAYOUT_NAMES, type CandidateName, type LayoutName } from "./layout-driver.js";
import type { PhaseMeasurement } from "./measure.js";
import type { Configuration, LayoutRun } from "./run-layout.js";

/** Costs per unit (per command, unless said otherwise). */
export interface UnitCosts {
  /** Backends plus server helpers. */
  dbCpuMs: number;
  backendCpuMs: number;
  helperCpuMs: number;
  /** This database's WAL when it can be told apart, else the server's. */
  walBytes: number;
  fullPageBytes: number | null;
  /** WAL without full-page images, which depend on when the last checkpoint was. */
  walWithoutPagesBytes: number;
  rows: number;
  statements: number;
  wallMs: number;
  retries: number;
}

const KEYS = ["dbCpuMs", "backendCpuMs", "helperCpuMs", "walBytes", "walWithoutPagesBytes", "rows", "statements", "wallMs", "retries"] as const;
export type CostKey = (typeof KEYS)[number];

/** One phase's costs divided by `units` (its own units unless given). */
export function perUnit(m: PhaseMeasurement, units = m.units): UnitCosts {
  const u = Math.max(1, units);
  return {
    dbCpuMs: (m.backendCpuMs + m.helperCpuMs) / u,
    backendCpuMs: m.backendCpuMs / u,
    helperCpuMs: m.helperCpuMs / u,
    walBytes: (m.wal.databaseBytes ?? m.wal.serverBytes) / u,
    fullPageBytes: m.wal.fullPageBytes === null ? null : m.wal.fullPageBytes / u,
    walWithoutPagesBytes: ((m.wal.databaseBytes ?? m.wal.serverBytes) - (m.wal.fullPageBytes ?? 0)) / u,
    rows: m.rowsWritten / u,
    statements: m.statements / u,
    wallMs: m.wallMs / u,
    retries: m.retries / u,
  };
}

function add(a: UnitCosts, b: UnitCosts): UnitCosts {
  const out = { ...a };
  for (const k of KEYS) out[k] = a[k] + b[k];
  out.fullPageBytes = a.fullPageBytes === null || b.fullPageBytes === null ? null : a.fullPageBytes + b.fullPageBytes;
  return out;
}

function mean(list: readonly UnitCosts[]): UnitCosts {
  const out = { ...list[0]! };
  for (const k of KEYS) out[k] = list.reduce((s, c) => s + c[k], 0) / list.length;
  out.fullPageBytes = list.some((c) => c.fullPageBytes === null) ? null : list.reduce((s, c) => s + c.fullPageBytes!, 0) / list.length;
  return out;
}

/** A layout's costs in one configuration: the transaction, the publication, both, per round and averaged. */
export interface LayoutSummary {
  commit: UnitCosts;
  publish: UnitCosts;
  total: UnitCosts;
  /** Total DB CPU per command of each round, to judge run-to-run variation. */
  roundCpuMs: number[];
}

export interface ConfigurationSummary {
  configuration: Configuration;
  layouts: Record<LayoutName, LayoutSummary>;
  /** Each candidate's total costs over current's. */
  ratio: Record<CandidateName, Record<CostKey, number>>;
  /** Round-to-round difference of total DB CPU per command, relative to its mean, per layout. */
  cpuSpread: Record<LayoutName, number>;
}

function summarizeLayout(runs: readonly LayoutRun[]): LayoutSummary {
  const commits = runs.map((r) => perUnit(r.commit, r.commands));
  const publishes = runs.map((r) => perUnit(r.publish, r.commands));
  const totals = commits.map((c, i) => add(c, publishes[i]!));
  return { commit: mean(commits), publish: mean(publishes), total: mean(totals), roundCpuMs: totals.map((t) => t.dbCpuMs) };
}

const spread = (values: readonly number[]): number => {
  const m = values.reduce((s, v) => s + v, 0) / values.length;
  return m === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / m;
};

export function summarizeConfiguration(configuration: Configuration, runs: readonly LayoutRun[]): ConfigurationSummary {
  const layouts = Object.fromEntries(LAYOUT_NAMES.map((name) => [name, summarizeLayout(runs.filter((r) => r.layout === name))])) as Record<LayoutName, LayoutSummary>;
  const current = layouts.current.total;
  const ratio = {} as ConfigurationSummary["ratio"];
  for (const candidate of CANDIDATES) {
    const own = layouts[candidate].total;
    ratio[candidate] = {} as Record<CostKey, number>;
    for (const k of KEYS) ratio[candidate][k] = current[k] === 0 ? (own[k] === 0 ? 1 : Infinity) : own[k] / current[k];
  }
  const cpuSpread = Object.fromEntries(LAYOUT_NAMES.map((name) => [name, spread(layouts[name].roundCpuMs)])) as Record<LayoutName, number>;
  return { configuration, layouts, ratio, cpuSpread };
}
