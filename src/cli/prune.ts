import { parseConsumerName } from "../operations/dead-letters.js";
import { parseDomain, parsePositiveInt } from "../operations/inputs.js";
import { pruneExpired, retentionFromConfig } from "../operations/prune.js";
import { rowLevelTtlStatements } from "../operations/row-ttl.js";
import type { CliCommand } from "./command.js";
import { EXIT, loadOpsConfig, operation, operationSync, parseCli, withDatabase } from "./ops-support.js";

export const pruneCommand: CliCommand = {
  name: "prune",
  summary: "delete expired command records, old published events, inbox rows, dead letters and reactor rejections",
  usage: "herald prune [--domain <name>] [--consumer <durable>] [--batch <n>] [--dry-run] [--json] | --print-ttl",
  help: `Deletes what is past retention in every table that grows:
  - command records past their expires_at (HERALD_IDEMPOTENCY_RETENTION_HOURS)
    with their events; never a command with an unpublished event;
  - published events older than HERALD_EVENT_RETENTION_HOURS (default 168);
    never an unpublished one;
  - consumers' inbox rows older than HERALD_INBOX_RETENTION_HOURS (default 720);
  - dead letters older than HERALD_DEAD_LETTER_RETENTION_HOURS (default 720),
    and reactors' recorded rejections older than the same;
  - identity issuance records expired more than HERALD_IDENTITY_RETENTION_HOURS
    ago (default 2160);
  - recorded operator actions older than HERALD_OPERATOR_ACTION_RETENTION_HOURS (default 8760).
Works in small batches so running workers are not blocked. Workers also prune
their domain's commands and events every 10 minutes, consumers their own inbox
rows and dead letters, reactors with a database their own rejections.

Options:
  --domain <name>       only this domain's commands, events and dead letters
                        (default: HERALD_DOMAIN, else every domain; the inbox
                        and reactor rejections have no domain)
  --consumer <durable>  only this consumer's inbox rows and dead letters, or this
                        reactor's rejections
  --batch <n>           rows per DELETE (default 500)
  --dry-run             count what would be deleted
  --json                the counts as JSON
  --print-ttl           print CockroachDB row-level TTL statements for the same
                        retentions instead (the alternative to pruning); touches
                        no database
  -h, --help            show this help

Exit codes: 0 done, 1 failure, 2 bad usage.`,
  async run(argv, io) {
    const { values } = parseCli(argv, {
      domain: { type: "string" },
      consumer: { type: "string" },
      batch: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      "print-ttl": { type: "boolean" },
    });
    const config = loadOpsConfig();
    const retention = retentionFromConfig(config);
    if (values["print-ttl"]) {
      io.out(rowLevelTtlStatements(retention).join("\n"));
      return EXIT.ok;
    }
    const domainFlag = values.domain ?? config.HERALD_DOMAIN;
    const domain = domainFlag === undefined ? undefined : operationSync(() => parseDomain(domainFlag));
    const consumer = values.consumer === undefined ? undefined : operationSync(() => parseConsumerName(values.consumer!, "--consumer"));
    const batchSize = values.batch === undefined ? undefined : operationSync(() => parsePositiveInt(values.batch!, "--batch", 100_000));
    const report = await withDatabase(config, "prune", (database) =>
      operation(() => pruneExpired({ db: database.db, domain, consumer, batchSize, ...retention, dryRun: values["dry-run"] ?? false })),
    );
    const scope = domain ?? "every domain";
    if (values.json) io.out(JSON.stringify({ ...report, domain: domain ?? null, consumer: consumer ?? null, ...retention }));
    else {
      const verb = report.dryRun ? "would delete" : "deleted";
      io.out(
        `${scope}: ${verb} ${report.commands} expired command record(s) with their events, ${report.events} published event(s) older than ${retention.eventRetentionHours} h, ` +
          `${report.inbox} inbox row(s) older than ${retention.inboxRetentionHours} h, ${report.deadLetters} dead letter(s) older than ${retention.deadLetterRetentionHours} h, ` +
          `${report.issuances} identity issuance record(s) expired more than ${retention.identityRetentionHours} h ago, ` +
          `${report.operatorActions} operator action(s) older than ${retention.operatorActionRetentionHours} h, ` +
          `${report.reactorRejections} reactor rejection(s) older than ${retention.deadLetterRetentionHours} h`,
      );
    }
    return EXIT.ok;
  },
};
