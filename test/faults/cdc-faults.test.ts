/**
 * CDC under faults, short mode (the long one: `npm run test:faults`). After
 * each fault every committed row change is in the stream exactly once, in
 * commit order per row, and nothing rolled back is (./cdc-scenarios.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CDC_SHORT, cdcKillBridge, cdcRestartNats, cdcRestartPostgres, formatCdcReport, type CdcFaultReport } from "./cdc-scenarios.js";

function assertHeld(report: CdcFaultReport): void {
  console.log(formatCdcReport(report));
  assert.deepEqual(report.violations, []);
  assert.ok(report.committed > 0 && report.rolledBack > 0, "the workload both committed and rolled back");
}

test("the bridge killed with SIGKILL mid-stream three times: every committed change once, in order, nothing rolled back; status sees it", async () => {
  assertHeld(await cdcKillBridge(CDC_SHORT));
});

test("NATS restarted mid-stream: every committed change once, in order, nothing rolled back", async () => {
  assertHeld(await cdcRestartNats(CDC_SHORT));
});

test("PostgreSQL restarted mid-stream: every committed change once, in order, nothing rolled back", async () => {
  assertHeld(await cdcRestartPostgres(CDC_SHORT));
});
