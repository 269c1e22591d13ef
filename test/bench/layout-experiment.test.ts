import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runLayoutExperiment, type LayoutResults } from "../../bench/layout/experiment.js";
import type { PhaseMeasurement } from "../../bench/layout/measure.js";
import { DEFAULT_LAYOUT_OPTIONS, LayoutOptionError, parseLayoutArgs, type LayoutOptions } from "../../bench/layout/options.js";
import { writeLayoutReport } from "../../bench/layout/report-files.js";
import { loadConfig } from "../../src/config.js";

// One connection: no two transactions ever conflict, so every row written is one the workload asked for.
const OPTIONS: LayoutOptions = {
  commands: 200,
  connections: 1,
  rounds: 2,
  configurations: [
    { batchSize: 1, eventsPerCommand: 1 },
    { batchSize: 4, eventsPerCommand: 1 },
  ],
  traces: 20,
};

let results: LayoutResults;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "layout-"));
  results = await runLayoutExperiment(loadConfig().DATABASE_URL, OPTIONS);
});

after(() => rmSync(dir, { recursive: true, force: true }));

type Rows = Record<string, { inserted: number; updated: number; deleted: number }>;
const rowsOf = (m: PhaseMeasurement): Rows =>
  Object.fromEntries(Object.entries(m.rows).map(([t, r]) => [t, { inserted: r.inserted, updated: r.updated, deleted: r.deleted }]));
const w = (inserted: number, updated: number, deleted = 0) => ({ inserted, updated, deleted });

test("every layout ran every configuration in both rounds, in reversed order the second time", () => {
  for (const { configuration, runs } of results.configurations) {
    assert.deepEqual(runs.map((r) => r.layout), ["current", "one-row", "one-row-read-first", "one-row-read-first", "one-row", "current"]);
    for (const run of runs) {
      assert.equal(run.commands, 200, `${run.layout} N=${configuration.batchSize}: commands committed`);
      assert.equal(run.events, 200 * configuration.eventsPerCommand, "every event published once");
      assert.equal(run.duplicates, 0);
      assert.equal(run.commit.retries, 0, "one connection never conflicts");
    }
  }
});

test("rows written are exactly what each layout must write, table by table", () => {
  for (const { configuration, runs } of results.configurations) {
    const c = 200;
    const e = c * configuration.eventsPerCommand;
    for (const run of runs) {
      const label = `${run.layout} N=${configuration.batchSize} round ${run.round}`;
      if (run.layout === "current") {
        // Claim insert, outcome upsert (an update of the same row), one outbox row per event, the business update.
        assert.deepEqual(rowsOf(run.commit), { herald_commands: w(c, c), herald_outbox: w(e, 0), layout_accounts: w(0, c) }, label);
        assert.deepEqual(rowsOf(run.publish), { herald_outbox: w(0, e) }, label);
      } else {
        assert.deepEqual(rowsOf(run.commit), { herald_commands_one: w(c, 0), layout_accounts: w(0, c) }, label);
        assert.deepEqual(rowsOf(run.publish), { herald_commands_one: w(0, c) }, label);
      }
      assert.equal(run.commit.rowsWritten + run.publish.rowsWritten, run.layout === "current" ? 3 * c + 2 * e : 3 * c, label);
    }
  }
});

test("statements are counted per batch as each layout sends them", () => {
  for (const { configuration, runs } of results.configurations) {
    const batches = 200 / configuration.batchSize;
    // BEGIN, claim, business write, outcome upsert + outbox, COMMIT / BEGIN, business write, INSERT, COMMIT / the same with the keys' read.
    const perBatch = { current: 5, "one-row": 4, "one-row-read-first": 5 } as const;
    for (const run of runs) {
      assert.equal(run.commit.statements, perBatch[run.layout] * batches, `${run.layout} N=${configuration.batchSize} transaction`);
      assert.equal(run.publish.statements, 2 * batches, `${run.layout} N=${configuration.batchSize}: read unpublished, mark published`);
    }
  }
});

test("WAL is this database's, attributed to the tables each layout writes", (t) => {
  // pg_walinspect ships with PostgreSQL 15 and later; older servers get the server-wide figure only.
  const major = Number(/PostgreSQL (\d+)/.exec(results.machine.server)?.[1] ?? 0);
  if (major < 15) {
    assert.ok(results.configurations[0]!.runs.every((r) => r.commit.wal.databaseBytes === null && r.commit.wal.serverBytes > 0));
    return t.skip(`PostgreSQL ${major} has no pg_walinspect`);
  }
  assert.equal(results.walInspection, true, "pg_walinspect is used where the server has it");
  for (const { runs } of results.configurations) {
    for (const run of runs) {
      for (const phase of [run.commit, run.publish]) {
        assert.ok(phase.wal.databaseBytes! > 0 && phase.wal.databaseBytes! <= phase.wal.serverBytes, `${run.layout}: ${JSON.stringify(phase.wal)}`);
      }
      // Catalogs apart: reading statistics ANALYZE just rewrote prunes pg_statistic's pages, in any layout.
      const written = (m: PhaseMeasurement) => Object.keys(m.wal.byTable!).filter((t) => !t.startsWith("(") && !t.startsWith("pg_"));
      const commitTables = written(run.commit);
      const publishTables = written(run.publish);
      if (run.layout === "current") {
        assert.deepEqual(commitTables.sort(), ["herald_commands", "herald_outbox", "layout_accounts"]);
        assert.deepEqual(publishTables, ["herald_outbox"]);
      } else {
        assert.deepEqual(commitTables.sort(), ["herald_commands_one", "layout_accounts"]);
        assert.deepEqual(publishTables, ["herald_commands_one"]);
      }
    }
  }
});

test("CPU and wall time are measured", () => {
  const phases = results.configurations.flatMap((c) => c.runs.flatMap((r) => [r.commit, r.publish]));
  assert.ok(phases.every((p) => p.backendCpuMs >= 0 && p.helperCpuMs >= 0 && p.wallMs > 0));
  assert.ok(phases.reduce((s, p) => s + p.backendCpuMs, 0) > 0, "the backends' CPU time grew");
  assert.ok(phases.every((p) => p.lostBackends === 0), "every measured connection lasted its phase");
});

test("a batch holding a key already stored stores the others and not that one again, and the experiment reports it", () => {
  const probe = (layout: string) => results.duplicates.find((d) => d.layout === layout)!;
  for (const d of results.duplicates) {
    assert.equal(d.reportedDuplicates, 1, d.layout);
    assert.equal(d.stored, 3, d.layout);
    assert.equal(d.rowsUnderKey, 1, `${d.layout}: the key still has one row`);
  }
  assert.deepEqual(rowsOf(probe("current").measurement), { herald_commands: w(3, 3), herald_outbox: w(3, 0), layout_accounts: w(0, 3) });
  assert.deepEqual(rowsOf(probe("one-row-read-first").measurement), { herald_commands_one: w(3, 0), layout_accounts: w(0, 3) });
  // The first attempt updated 4 accounts and wrote the repeated key's row before its unique check failed; the second stored 3.
  assert.equal(probe("one-row").measurement.retries, 1);
  assert.deepEqual(rowsOf(probe("one-row").measurement), { herald_commands_one: w(1 + 3, 0), layout_accounts: w(0, 4 + 3) });
});

test("trace, replay and prune are measured on the rows the runs left", () => {
  const side = (layout: string) => results.sideCosts.find((s) => s.layout === layout)!;
  // The last run of each table stored 200 commands; the duplicate probes added 3 (current) and 3 + 3 (both one-row forms).
  assert.equal(side("current").trace.units, 20);
  assert.equal(side("current").replay.units, 203);
  assert.equal(side("one-row").replay.units, 206);
  assert.equal(side("current").prune.units, 203);
  assert.deepEqual(rowsOf(side("current").prune), { herald_commands: w(0, 0, 203), herald_outbox: w(0, 0, 203) }, "events go by cascade");
  assert.deepEqual(rowsOf(side("one-row").prune), { herald_commands_one: w(0, 0, 206) });
  assert.equal(side("one-row").trace.statements, 20, "one statement per trace");
  assert.equal(side("current").trace.statements, 40, "command, then its events");
});

test("the report renders from the results", () => {
  const paths = { json: join(dir, "layout.json"), doc: join(dir, "row-layout.md") };
  writeLayoutReport(results, paths);
  assert.deepEqual(JSON.parse(readFileSync(paths.json, "utf8")), JSON.parse(JSON.stringify(results)));
  const doc = readFileSync(paths.doc, "utf8");
  assert.match(doc, /^<!-- Generated by `npm run bench:layout`/);
  assert.match(doc, /### 1 command per transaction, 1 event per command/);
  assert.match(doc, /### 4 commands per transaction, 1 event per command/);
  assert.match(doc, /\| rows written \(aborted attempts included\) \| 5\.00 \| 3\.00 \| 3\.00 \| 0\.60× \| 0\.60× \|/, "5 rows per command today, 3 with one row");
  assert.match(doc, /one-row: a batch of 4 with 1 key already stored reported 1 duplicate, stored 3 commands in 2 attempts/);
  assert.match(doc, /## Conclusion\n\n- \*\*one-row\*\*/);
  assert.match(doc, /Every layout detected the repeated key/);
});

test("bad arguments are refused with the argument named, and the defaults are the brief's", () => {
  assert.throws(() => parseLayoutArgs(["--commands", "0"]), (err: unknown) => err instanceof LayoutOptionError && err.argument === "--commands");
  assert.throws(() => parseLayoutArgs(["--rounds", "two"]), LayoutOptionError);
  assert.throws(() => parseLayoutArgs(["--size", "3"]), /unknown argument/);
  assert.deepEqual(parseLayoutArgs(["--commands", "500", "--connections", "2"]), { ...DEFAULT_LAYOUT_OPTIONS, commands: 500, connections: 2 });
  assert.deepEqual(DEFAULT_LAYOUT_OPTIONS.configurations.map((c) => `${c.batchSize}/${c.eventsPerCommand}`), ["1/1", "4/1", "32/1", "32/2"]);
});
