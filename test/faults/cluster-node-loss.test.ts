import assert from "node:assert/strict";
import { test } from "node:test";
import { formatReport } from "./scenario.js";
import { clusterNodeLoss, SHORT } from "./scenarios.js";

test("a NATS cluster node lost during load: the replicated stream keeps every event once", async () => {
  const report = await clusterNodeLoss(SHORT);
  console.log(formatReport(report));
  assert.deepEqual(report.violations, []);
  assert.equal(report.sent, SHORT.transfers);
  assert.ok(report.confirmed > 0);
});
