import { fileURLToPath } from "node:url";
import { benchServers, RESULTS_DIR } from "../settings.js";
import { runLayoutExperiment } from "./experiment.js";
import { parseLayoutArgs } from "./options.js";
import { writeLayoutReport } from "./report-files.js";

/** Where the generated page goes. */
const LAYOUT_DOC = fileURLToPath(new URL("../../docs/row-layout.md", import.meta.url));
const LAYOUT_RESULTS = `${RESULTS_DIR}layout.json`;

/** `npm run bench:layout [-- --commands N --connections N --rounds N --traces N]` */
async function main(): Promise<void> {
  const options = parseLayoutArgs(process.argv.slice(2));
  const results = await runLayoutExperiment(benchServers().databaseUrl, options, (line) => console.log(line));
  writeLayoutReport(results, { json: LAYOUT_RESULTS, doc: LAYOUT_DOC });
  console.log(`wrote ${LAYOUT_RESULTS} and ${LAYOUT_DOC}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
