import { loadConfig } from "../config.js";
import { parseDomain, parsePositiveInt } from "../operations/inputs.js";
import { pruneExpired } from "../operations/prune.js";
import type { CliCommand } from "./command.js";
import { EXIT, operation, operationSync, parseCli, withDatabase } from "./ops-support.js";

export const pruneCommand: CliCommand = {
  name: "prune",
  summary: "delete expired command records and old published events",
  usage: "herald prune [--domain <name>] [--batch <n>] [--dry-run] [--json]",
  help: `Deletes command records past their expires_at (the idempotency retention,
HERALD_IDEMPOTENCY_RETENTION_HOURS) together with their events, and published
events older than HERALD_EVENT_RETENTION_HOURS (default 168). Works in small
batches so running workers are not blocked. Never deletes an unpublished
event, nor a command with one. Workers also prune their domain every 10 minutes.

Options:
  --domain <name>   only this domain (default: HERALD_DOMAIN, else every domain)
  --batch <n>       rows per DELETE (default 500)
  --dry-run         count what would be deleted
  --json            the counts as JSON
  -h, --help        show this help

Exit codes: 0 done, 1 failure, 2 bad usage.`,
  async run(argv, io) {
    const { values } = parseCli(argv, {
      domain: { type: "string" },
      batch: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
    });
    const config = loadConfig();
    const domainFlag = values.domain ?? config.HERALD_DOMAIN;
    const domain = domainFlag === undefined ? undefined : operationSync(() => parseDomain(domainFlag));
    const batchSize = values.batch === undefined ? undefined : operationSync(() => parsePositiveInt(values.batch!, "--batch", 100_000));
    const hours = config.HERALD_EVENT_RETENTION_HOURS;
    const report = await withDatabase(config, "prune", (database) =>
      operation(() => pruneExpired({ db: database.db, domain, batchSize, eventRetentionHours: hours, dryRun: values["dry-run"] ?? false })),
    );
    const scope = domain ?? "every domain";
    if (values.json) io.out(JSON.stringify({ ...report, domain: domain ?? null, eventRetentionHours: hours }));
    else {
      const verb = report.dryRun ? "would delete" : "deleted";
      io.out(`${scope}: ${verb} ${report.commands} expired command record(s) with their events, ${report.events} published event(s) older than ${hours} h`);
    }
    return EXIT.ok;
  },
};
