/**
 * The fault suite's long mode: every scenario with a heavier workload and more
 * faults, one report each. `npm run test:faults` (CI runs the short mode through
 * `npm test`). The CDC scenarios run the built CLI: `npm run build` first.
 * Exits non-zero when any invariant broke.
 */
import { CDC_LONG, CDC_SCENARIOS, formatCdcReport } from "./cdc-scenarios.js";
import { formatReport } from "./scenario.js";
import { ALL_SCENARIOS, LONG } from "./scenarios.js";

/** Runs each scenario in turn; returns how many failed. */
async function runAll<M, R extends { violations: string[] }>(
  scenarios: Record<string, (mode: M) => Promise<R>>,
  mode: M,
  format: (report: R) => string,
): Promise<number> {
  let failed = 0;
  for (const [name, run] of Object.entries(scenarios)) {
    try {
      const report = await run(mode);
      console.log(format(report));
      if (report.violations.length > 0) failed++;
    } catch (err) {
      failed++;
      console.log(`scenario ${name} could not run: ${(err as Error).stack}`);
    }
  }
  return failed;
}

const failed = (await runAll(ALL_SCENARIOS, LONG, formatReport)) + (await runAll(CDC_SCENARIOS, CDC_LONG, formatCdcReport));
console.log(failed === 0 ? "all fault scenarios held their invariants" : `${failed} scenario(s) failed`);
process.exit(failed === 0 ? 0 : 1);
