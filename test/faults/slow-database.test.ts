import assert from "node:assert/strict";
import { test } from "node:test";
import { formatReport } from "./scenario.js";
import { slowDatabase, SHORT } from "./scenarios.js";

test("a slow, then stalled database: deadlines fire, clients retry, nothing doubles", async () => {
  const report = await slowDatabase(SHORT);
  console.log(formatReport(report));
  assert.deepEqual(report.violations, []);
  assert.equal(report.sent, SHORT.transfers);
  assert.ok(report.confirmed > 0);
});
