import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePlan, runsOf } from "../../bench/options.js";
import { cpuTargetLine, perCommandRows, processesSummary, runLabel } from "../../bench/per-command-report.js";
import { perCommand, readSnapshot, usageBetween, type ProcessReading } from "../../bench/process-usage.js";
import type { BenchResults } from "../../bench/results.js";
import type { RunResult } from "../../bench/run-one.js";
import { statementsBetween } from "../../bench/statement-probe.js";

const readings = (values: Record<number, ProcessReading>) => (pid: number) => values[pid];

test("usage between snapshots: new processes count from zero, gone ones drop out, unreadable I/O is unknown", () => {
  const pids = { worker: [10, 11], database: [20, 21], nats: [30], generator: [] };
  const from = readSnapshot(pids, readings({ 10: { cpuS: 1, syscw: 100 }, 11: { cpuS: 5, syscw: 10 }, 20: { cpuS: 2, syscw: 50 }, 21: { cpuS: 1, syscw: undefined }, 30: { cpuS: 7, syscw: 1000 } }));
  // 11 ended in the window; 12 started in it.
  const to = readSnapshot(
    { worker: [10, 12], database: [20, 21], nats: [30], generator: [] },
    readings({ 10: { cpuS: 2.5, syscw: 400 }, 12: { cpuS: 0.5, syscw: 20 }, 20: { cpuS: 3, syscw: 90 }, 21: { cpuS: 1.5, syscw: undefined }, 30: { cpuS: 7.25, syscw: 1300 } }),
  );
  const usage = usageBetween(from, to);
  assert.deepEqual(usage.worker, { cpuS: 2, writeSyscalls: 320, processes: 2 });
  assert.deepEqual(usage.database, { cpuS: 1.5, writeSyscalls: null, processes: 2 });
  assert.deepEqual(usage.nats, { cpuS: 0.25, writeSyscalls: 300, processes: 1 });
  assert.equal(usage.generator, null, "a role with no process is not measured, not zero");

  const per = perCommand(usage, 1000);
  assert.deepEqual(per.cpuMs, { worker: 2, database: 1.5, nats: 0.25, generator: null });
  assert.deepEqual(per.writes, { worker: 0.32, database: null, nats: 0.3, generator: null });
  assert.equal(per.totalCpuMs, 3.75);
  assert.equal(perCommand(usage, 0).totalCpuMs, null, "no committed command, no per-command figure");
});

test("statement counts between readings need both readings", () => {
  assert.deepEqual(statementsBetween({ queries: 10, statements: 30 }, { queries: 25, statements: 70 }), { queries: 15, statements: 40 });
  assert.equal(statementsBetween(undefined, { queries: 1, statements: 1 }), null);
});

function run(overrides: Partial<RunResult>): RunResult {
  return {
    scenario: "uniform",
    clients: 64,
    comparator: "herald",
    domain: "bh0",
    completed: true,
    load: { window: { committedPerSec: 1500 } } as RunResult["load"],
    worker: { peakRssMb: 1, rssMbAtEnd: 1, cpuS: 1, cpuMsPerCommit: 1 },
    machineBusyPercent: 50,
    warnings: [],
    ...overrides,
  };
}

test("the per-command table shows each figure and a dash for what was not measured", () => {
  const measured = run({
    perCommand: { cpuMs: { worker: 0.25, database: 0.3, nats: 0.07, generator: 0.1 }, writes: { worker: 1.5, database: 0.6, nats: 1.8, generator: null }, totalCpuMs: 0.72 },
    statements: { window: { queries: 100, statements: 200 }, perCommand: 2, queriesPerCommand: 1, rowsWrittenPerCommand: 6.3 },
    database: {
      retries: 0,
      transactionsPerCommand: 0.29,
      sessionCpuS: 1,
      stored: { committed: 1, rejected: 0, retries: 0, events: 1, unpublished: 0 },
      eventsInStream: 1,
      workerStats: { retries: 2, batches: 40, committed: 1460 },
    },
  });
  const old = run({ comparator: "glue" });
  const auto = run({ processes: "auto", profile: "rowlocks", latencyMs: 2, perCommand: { cpuMs: { worker: 0.2, database: null, nats: null, generator: null }, writes: { worker: null, database: null, nats: null, generator: null }, totalCpuMs: null } });
  const rows = perCommandRows({ runs: [measured, old, auto] } as BenchResults);
  assert.equal(rows.length, 2, "runs from before the figures were recorded are left out");
  assert.deepEqual(rows[0], ["uniform", "64", "herald", "1500", "0.250", "0.300", "0.070", "0.100", "0.720", "1.50", "0.60", "1.80", "2.00", "1.00", "6.30", "0.29", "36.5"]);
  assert.equal(rows[1]![0], "uniform (rowlocks, 2 ms, --processes auto)");
  assert.deepEqual(rows[1]!.slice(5), ["-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"]);
  assert.equal(runLabel(run({ scenario: "deposit" })), "deposit");
});

test("the deposit scenario runs Herald alone at 64 clients, and --profile is a flag", () => {
  const quick = parsePlan(["--quick"])!;
  assert.equal(quick.profile, false);
  const deposits = runsOf(quick).filter((r) => r.scenario === "deposit");
  assert.deepEqual(deposits, [{ scenario: "deposit", clients: 64, comparator: "herald" }]);
  const custom = parsePlan(["--scenarios", "deposit", "--comparators", "glue", "--profile"])!;
  assert.equal(custom.profile, true);
  assert.deepEqual(runsOf(custom), [], "the glue has no deposit");
  assert.ok(runsOf(parsePlan([])!).some((r) => r.scenario === "deposit"), "the full run has it");
  assert.throws(() => parsePlan(["--scenarios", "withdraw"]), /unknown scenario "withdraw"/);
});

test("full and quick runs add Herald with --processes auto; a custom --processes applies to every Herald run", () => {
  for (const argv of [[], ["--quick"]]) {
    assert.deepEqual(runsOf(parsePlan(argv)!).filter((r) => r.processes !== undefined), [{ scenario: "uniform", clients: 64, comparator: "herald", processes: "auto" }]);
  }
  const custom = runsOf(parsePlan(["--scenarios", "uniform", "--clients", "64", "--comparators", "glue,herald", "--processes", "3"])!);
  assert.deepEqual(custom, [
    { scenario: "uniform", clients: 64, comparator: "glue" },
    { scenario: "uniform", clients: 64, comparator: "herald", processes: 3 },
  ]);
  assert.throws(() => parsePlan(["--processes", "0"]), /--processes must be a whole number from 1 to 64, or auto/);
});

test("the processes summary sets several processes against one", () => {
  const one = run({ load: { window: { committedPerSec: 1000 }, latencyMs: { p99: 80 } } as RunResult["load"] });
  const auto = run({
    processes: "auto",
    load: { window: { committedPerSec: 1500 }, latencyMs: { p99: 60 } } as RunResult["load"],
    usage: { worker: { cpuS: 3, writeSyscalls: 10, processes: 3 }, database: null, nats: null, generator: null },
  });
  assert.deepEqual(processesSummary({ runs: [one, auto] } as BenchResults), [
    "uniform (--processes auto) C=64: 1500/s, p99 60.0 ms with 2 worker processes; one process 1000/s, p99 80.0 ms (1.50x)",
  ]);
});

test("the CPU targets are judged from the uniform 64-client run, and left out without one", () => {
  const measured = run({
    perCommand: { cpuMs: { worker: 0.1, database: 0.2, nats: 0.07, generator: 0.1 }, writes: { worker: 1, database: 1, nats: 1, generator: null }, totalCpuMs: 0.47 },
  });
  assert.deepEqual(cpuTargetLine({ runs: [measured] } as BenchResults), [
    "CPU per committed command, uniform, 64 clients, Herald: worker 0.100 ms (target ≤ 0.12 ms: met), database 0.200 ms (target ≤ 0.15 ms: missed)",
  ]);
  assert.deepEqual(cpuTargetLine({ runs: [{ ...measured, processes: "auto" }] } as BenchResults), [], "several processes are not the one-process target");
  assert.deepEqual(cpuTargetLine({ runs: [] } as unknown as BenchResults), []);
});
