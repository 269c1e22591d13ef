import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { demoOptionsFromFlags } from "../demo/options.js";
import { createProgress } from "../demo/progress.js";
import { formatReport } from "../demo/report.js";
import { runDemo } from "../demo/run-demo.js";
import { defaultStreamName } from "../protocol/subjects.js";
import type { CliCommand } from "./command.js";
import { databaseOptionsFromConfig, natsOptionsFromConfig } from "./connection-options.js";

export const demoCommand: CliCommand = {
  name: "demo",
  summary: "run two workers and a contended workload, then check every guarantee",
  usage: "herald demo [--domain <name>] [--transfers <n>] [--concurrency <c>] [--json]",
  help: `Migrates DATABASE_URL, starts two workers of the bank domain (one queue
group), opens a few hot accounts and sends a few hundred transfers at high
concurrency, so transactions collide and retry. About 10% are sent twice with
the same key, one key is reused with another payload, some transfers must be
rejected and some requests are invalid. Then it checks the database and the
event stream against the replies, prints a summary and stops the workers.

Options:
  --domain <name>      domain the workers serve (default: demo)
  --transfers <n>      transfers to send (default: 300)
  --concurrency <c>    requests in flight at once (default: 64)
  --json               print the summary as JSON
  -h, --help           show this help

Exit status: 0 when every guarantee held, 1 otherwise.`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: { domain: { type: "string" }, transfers: { type: "string" }, concurrency: { type: "string" }, json: { type: "boolean", default: false } },
      strict: true,
    });
    const options = demoOptionsFromFlags(values);
    const config = loadConfig();
    const report = await runDemo(options, {
      database: databaseOptionsFromConfig(config),
      nats: natsOptionsFromConfig(config),
      stream: config.HERALD_STREAM ?? defaultStreamName(options.domain),
      progress: createProgress(process.stderr),
      stopSignal: io.stopSignal,
    });
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? 0 : 1;
  },
};
