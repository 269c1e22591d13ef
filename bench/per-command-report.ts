import type { BenchResults } from "./results.js";
import { findRun, throughput } from "./results.js";
import type { RunResult } from "./run-one.js";

/**
 * The per-command table: what one committed command cost each process (CPU,
 * write system calls) and the database (statements, rows written,
 * transactions), beside throughput.
 */
export const PER_COMMAND_HEADER = [
  "scenario",
  "C",
  "target",
  "commits/s",
  "worker CPU ms",
  "DB CPU ms",
  "NATS CPU ms",
  "load CPU ms",
  "all CPU ms",
  "worker writes",
  "DB writes",
  "NATS writes",
  "statements",
  "queries",
  "rows written",
  "DB tx",
  "cmds/batch",
];

const fixed = (v: number | null | undefined, digits: number): string => (v === null || v === undefined ? "-" : v.toFixed(digits));

/** A run's scenario as the tables name it: where its database was, and how many worker processes, when not the default. */
export function runLabel(r: RunResult): string {
  const where: string[] = [];
  if (r.profile || r.latencyMs !== undefined) where.push(r.profile ?? "default", r.latencyMs === null || r.latencyMs === undefined ? "direct" : `${r.latencyMs} ms`);
  if (r.processes !== undefined) where.push(`--processes ${r.processes}`);
  return where.length ? `${r.scenario} (${where.join(", ")})` : r.scenario;
}

/** Herald's commands per group-commit batch over the run, from its own counters; null for the glue. */
export function commandsPerBatch(r: RunResult): number | null {
  const stats = r.database?.workerStats;
  return stats && stats.batches > 0 ? stats.committed / stats.batches : null;
}

/** One row per run that recorded its per-command figures (older results have none). */
export function perCommandRows(results: BenchResults): string[][] {
  return results.runs
    .filter((r) => r.perCommand !== undefined && r.comparator !== "ceiling")
    .map((r) => {
      const p = r.perCommand!;
      return [
        runLabel(r),
        String(r.clients),
        r.comparator,
        fixed(throughput(r), 0),
        fixed(p.cpuMs.worker, 3),
        fixed(p.cpuMs.database, 3),
        fixed(p.cpuMs.nats, 3),
        fixed(p.cpuMs.generator, 3),
        fixed(p.totalCpuMs, 3),
        fixed(p.writes.worker, 2),
        fixed(p.writes.database, 2),
        fixed(p.writes.nats, 2),
        fixed(r.statements?.perCommand, 2),
        fixed(r.statements?.queriesPerCommand, 2),
        fixed(r.statements?.rowsWrittenPerCommand, 2),
        fixed(r.database?.transactionsPerCommand, 2),
        fixed(commandsPerBatch(r), 1),
      ];
    });
}

/** What the per-command columns mean, for the doc. */
export const PER_COMMAND_NOTE = `Per committed command in the measured window, from \`/proc\`: CPU time (user + system, ms) of the worker (every process of it: a supervisor's workers too), the database (the target's sessions and the server's WAL writer, checkpointer, background writer and autovacuum), nats-server and the load generator; write system calls (\`/proc/<pid>/io\` \`syscw\`) of the worker, the database processes and nats-server. Statements and queries are counted in the target's pg driver (a message of several statements, such as \`BEGIN; …; COMMIT\`, or a statement sent with COMMIT under one Sync, is one query and several statements); rows written (inserted, updated, deleted) and DB tx come from \`pg_stat_database\` over the whole run, per command that reached the database, outbox relay and the writes of attempts that rolled back included; cmds/batch is Herald's committed commands per group-commit batch (its \`$SRV.STATS\`), so statements or rows per batch are the per-command figure times it. NATS and database helpers are shared with anything else running on the machine.`;

/** One line per run with several worker processes, against the same point with one process. */
export function processesSummary(results: BenchResults): string[] {
  return results.runs
    .filter((r) => r.processes !== undefined && r.comparator === "herald")
    .map((r) => {
      const one = results.runs.find(
        (o) => o.processes === undefined && o.comparator === "herald" && o.scenario === r.scenario && o.clients === r.clients && o.profile === r.profile && o.latencyMs === r.latencyMs,
      );
      // The worker's processes are the supervisor and its workers.
      const workers = r.usage?.worker ? r.usage.worker.processes - 1 : undefined;
      const many = throughput(r);
      const single = throughput(one);
      const ratio = many !== null && single ? ` (${(many / single).toFixed(2)}x)` : "";
      return `${runLabel(r)} C=${r.clients}: ${fixed(many, 0)}/s, p99 ${fixed(r.load?.latencyMs.p99, 1)} ms${workers !== undefined ? ` with ${workers} worker processes` : ""}; one process ${fixed(single, 0)}/s, p99 ${fixed(one?.load?.latencyMs.p99, 1)} ms${ratio}`;
    });
}

/** The issue's CPU targets per committed command at uniform, 64 clients, one worker process. */
export const CPU_TARGETS_MS = { worker: 0.12, database: 0.15 } as const;

/** Herald's CPU per command at uniform C=64 (default profile, direct) against its targets; empty when not measured. */
export function cpuTargetLine(results: BenchResults): string[] {
  const run = findRun(results, "uniform", 64, "herald");
  const cpu = run?.perCommand?.cpuMs;
  if (!cpu || cpu.worker === null || cpu.database === null) return [];
  const judge = (value: number, target: number) => `${value.toFixed(3)} ms (target ≤ ${target} ms: ${value <= target ? "met" : "missed"})`;
  return [`CPU per committed command, uniform, 64 clients, Herald: worker ${judge(cpu.worker, CPU_TARGETS_MS.worker)}, database ${judge(cpu.database, CPU_TARGETS_MS.database)}`];
}
