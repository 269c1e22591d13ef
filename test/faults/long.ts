/**
 * The fault suite's long mode: every scenario with a heavier workload and more
 * faults, one report each. `npm run test:faults` (CI runs the short mode through
 * `npm test`). Exits non-zero when any invariant broke.
 */
import { formatReport } from "./scenario.js";
import { ALL_SCENARIOS, LONG } from "./scenarios.js";

let failed = 0;
for (const [name, run] of Object.entries(ALL_SCENARIOS)) {
  try {
    const report = await run(LONG);
    console.log(formatReport(report));
    if (report.violations.length > 0) failed++;
  } catch (err) {
    failed++;
    console.log(`scenario ${name} could not run: ${(err as Error).stack}`);
  }
}
console.log(failed === 0 ? "all fault scenarios held their invariants" : `${failed} scenario(s) failed`);
process.exit(failed === 0 ? 0 : 1);
