import { parseDomain } from "../operations/inputs.js";
import { formatTrace, loadCommandTrace } from "../operations/trace.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { EXIT, loadOpsConfig, operation, operationSync, parseCli, withDatabase } from "./ops-support.js";

export const traceCommand: CliCommand = {
  name: "trace",
  summary: "show what happened to one command: attempts, outcome, events, trace id",
  usage: "herald trace <commandId|idempotencyKey> [--domain <name>] [--json]",
  help: `Looks a command up in the database by its id or its Idempotency-Key and shows
its subject, key, payload, received and committed times, transaction attempts
(retries after serialization conflicts), outcome (the stored reply), its events
with stream sequence and publication time, and the W3C trace id to open in
Jaeger.

Options:
  --domain <name>   domain of the key (needed when a key was used in several)
  --json            the whole record as one JSON object
  -h, --help        show this help

Exit codes: 0 found, 1 not found (or pruned), 2 bad usage.`,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, { domain: { type: "string" }, json: { type: "boolean" } }, true);
    if (positionals.length !== 1) throw new CliError("expected one command id or idempotency key", EXIT.usage);
    const ref = positionals[0]!;
    const domain = values.domain === undefined ? undefined : operationSync(() => parseDomain(values.domain!));
    const config = loadOpsConfig();
    const trace = await withDatabase(config, "trace", (database) => operation(() => loadCommandTrace(database.db, ref, domain)));
    if (values.json) io.out(JSON.stringify(trace));
    else for (const line of formatTrace(trace)) io.out(line);
    return EXIT.ok;
  },
};
