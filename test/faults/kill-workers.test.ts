import assert from "node:assert/strict";
import { test } from "node:test";
import { formatReport } from "./scenario.js";
import { killWorkers, SHORT } from "./scenarios.js";

test("kill -9 of workers during load: nothing lost, nothing doubled", async () => {
  const report = await killWorkers(SHORT);
  console.log(formatReport(report));
  assert.deepEqual(report.violations, []);
  assert.equal(report.sent, SHORT.transfers);
  assert.ok(report.confirmed > 0);
});
