import assert from "node:assert/strict";
import { test } from "node:test";
import { cdcConsoleLines, cdcDocSection } from "../../bench/cdc/cdc-report.js";
import type { CdcBenchResult } from "../../bench/cdc/run-cdc.js";

const result = (changesPerS: number, p99Ms: number): CdcBenchResult => ({
  throughput: { changes: 100_000, seconds: 100_000 / changesPerS, changesPerS },
  lag: { ratePerS: 5000, changes: 75_000, p50Ms: 3, p99Ms, maxMs: p99Ms + 10 },
});

test("the CDC report judges each figure against its target", () => {
  const missed = cdcDocSection(result(25_000, 13));
  assert.match(missed, /25,000 changes\/s \(4\.0 s\) \| \*\*missed\*\*/);
  assert.match(missed, /p50 3 ms, p99 13 ms, max 23 ms \| met/);
  const slow = cdcConsoleLines(result(32_000, 120));
  assert.match(slow[1]!, /32,000 changes\/s .*target ≥ 30,000 changes\/s: met/);
  assert.match(slow[2]!, /p99 120 ms.*target p99 < 100 ms: missed\)$/);
});

test("a CDC bench that could not run says why, and results without one add nothing", () => {
  assert.match(cdcDocSection({ error: "no initdb" }), /could not run: no initdb/);
  assert.deepEqual(cdcConsoleLines({ error: "no initdb" }), ["CDC benchmark could not run: no initdb"]);
  assert.equal(cdcDocSection(undefined), "");
  assert.deepEqual(cdcConsoleLines(undefined), []);
});
