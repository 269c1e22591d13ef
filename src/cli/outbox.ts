import { parsePositiveInt } from "../operations/inputs.js";
import { outboxStatus } from "../operations/outbox-status.js";
import type { CliCommand } from "./command.js";
import { EXIT, loadOpsConfig, operationSync, parseCli, resolveDomain, withDatabase } from "./ops-support.js";

export const outboxCommand: CliCommand = {
  name: "outbox",
  summary: "show unpublished events; exit 3 when the oldest is too old (health check)",
  usage: "herald outbox [--domain <name>] [--max-age-ms <n>] [--limit <n>] [--json]",
  help: `Shows the domain's events committed but not yet on the stream, oldest first,
and the age of the oldest (by the database clock). A few seconds of backlog is
normal: the worker publishes after replying and the relay picks up the rest. A
backlog older than --max-age-ms means no relay is publishing (NATS down, no
worker running): the command then exits with 3, for health checks.

Options:
  --domain <name>      domain (default: HERALD_DOMAIN, else the database's only one)
  --max-age-ms <n>     threshold for the oldest event's age (default 60000)
  --limit <n>          pending events listed (default 20)
  --json               the status as one JSON object
  -h, --help           show this help

Exit codes: 0 healthy, 1 failure, 2 bad usage, 3 oldest pending event older than the threshold.`,
  async run(argv, io) {
    const { values } = parseCli(argv, {
      domain: { type: "string" },
      "max-age-ms": { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    });
    const config = loadOpsConfig();
    const maxAgeMs = values["max-age-ms"] === undefined ? undefined : operationSync(() => parsePositiveInt(values["max-age-ms"]!, "--max-age-ms", 365 * 86_400_000));
    const limit = values.limit === undefined ? undefined : operationSync(() => parsePositiveInt(values.limit!, "--limit", 10_000));
    const domain = await resolveDomain(values.domain, config);
    const status = await withDatabase(config, "outbox", (database) => outboxStatus(database.db, { domain, maxAgeMs, limit }));
    if (values.json) io.out(JSON.stringify(status));
    else {
      io.out(`${domain}: ${status.pending} pending event(s), oldest ${status.oldestAgeMs} ms (threshold ${status.maxAgeMs} ms)`);
      for (const e of status.events) {
        io.out(`  ${e.createdAt.toISOString()} ${e.subject} ce-id=${e.id} command=${e.commandId} age=${e.ageMs}ms attempts=${e.publishAttempts}`);
      }
    }
    if (!status.stale) return EXIT.ok;
    io.err(`herald outbox: the oldest unpublished event of ${domain} is ${status.oldestAgeMs} ms old (threshold ${status.maxAgeMs} ms)`);
    return EXIT.unhealthy;
  },
};
