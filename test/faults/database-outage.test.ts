import assert from "node:assert/strict";
import { test } from "node:test";
import { formatReport } from "./scenario.js";
import { databaseOutage, SHORT } from "./scenarios.js";

test("database connections killed and the database restarted: no confirmed command lost or doubled", async () => {
  const report = await databaseOutage(SHORT);
  console.log(formatReport(report));
  assert.deepEqual(report.violations, []);
  assert.equal(report.sent, SHORT.transfers);
  assert.ok(report.confirmed > 0);
});
