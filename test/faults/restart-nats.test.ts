import assert from "node:assert/strict";
import { test } from "node:test";
import { formatReport } from "./scenario.js";
import { restartNats, SHORT } from "./scenarios.js";

test("NATS server restart during load: workers reconnect, the relay catches up", async () => {
  const report = await restartNats(SHORT);
  console.log(formatReport(report));
  assert.deepEqual(report.violations, []);
  assert.equal(report.sent, SHORT.transfers);
  assert.ok(report.confirmed > 0);
});
