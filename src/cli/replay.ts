import { jetstream } from "@nats-io/jetstream";
import { parseEventSubject, parsePositiveInt, parseSubjectPrefix, parseTime } from "../operations/inputs.js";
import { replayEvents, type ReplayOptions, type ReplayReport } from "../operations/replay.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { EXIT, loadOpsConfig, operation, operationSync, parseCli, resolveDomain, withDatabase, withNats } from "./ops-support.js";

export const replayCommand: CliCommand = {
  name: "replay",
  summary: "re-publish stored events of a time range, in commit order",
  usage:
    "herald replay [--domain <name>] [--since <t>] [--until <t>] [--subject <s>] [--to-subject-prefix <p>] [--dry-run] [--json]",
  help: `Re-publishes events from the outbox table in commit order (commit time,
command id, position) with their original headers: ce-id, the CloudEvents
attributes, traceparent, and Nats-Msg-Id = ce-id. JetStream drops a message
whose Nats-Msg-Id it saw within its duplicate window (15 minutes for a stream
a worker created: HERALD_STREAM_DUPLICATE_WINDOW_MS),
so a replay into the same stream inside that window publishes nothing new.
--to-subject-prefix re-targets every event to <prefix>.<original subject>
(another subject tree, captured by another stream) without Nats-Msg-Id.
Consumers with an inbox apply nothing twice either way. Progress goes to
stderr, the count to stdout.

Options:
  --domain <name>             domain whose events to replay (default: HERALD_DOMAIN, else the database's only one)
  --since <t>                 commands committed at or after t (ISO-8601, or 15m, 2h, 7d ago)
  --until <t>                 commands committed before t
  --subject <s>               an event name or subject filter (bank.evt.*)
  --to-subject-prefix <p>     publish to <p>.<subject> instead of the original subjects
  --batch <n>                 rows read per query (default 500)
  --dry-run                   list what would be published, publish nothing
  --json                      the summary (and, dry, each event) as JSON
  -h, --help                  show this help

Exit codes: 0 done, 1 nothing in the range or a publish failed, 2 bad usage.`,
  async run(argv, io) {
    const { values } = parseCli(argv, {
      domain: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      subject: { type: "string" },
      "to-subject-prefix": { type: "string" },
      batch: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
    });
    const config = loadOpsConfig();
    const domain = await resolveDomain(values.domain, config);
    const options = operationSync(() => {
      const now = new Date();
      const since = values.since === undefined ? undefined : parseTime(values.since, "--since", now);
      const until = values.until === undefined ? undefined : parseTime(values.until, "--until", now);
      if (since && until && since >= until) throw new CliError(`--since (${since.toISOString()}) must be before --until (${until.toISOString()})`, EXIT.usage);
      return {
        domain,
        since,
        until,
        subject: values.subject === undefined ? undefined : parseEventSubject(domain, values.subject),
        toSubjectPrefix: values["to-subject-prefix"] === undefined ? undefined : parseSubjectPrefix(values["to-subject-prefix"]),
        batchSize: values.batch === undefined ? undefined : parsePositiveInt(values.batch, "--batch", 10_000),
        dryRun: values["dry-run"] ?? false,
      } satisfies Omit<ReplayOptions, "db">;
    });
    const json = values.json ?? false;
    const run = (extra: Pick<ReplayOptions, "js">) =>
      withDatabase(config, "replay", (database) =>
        operation(() =>
          replayEvents({
            ...options,
            ...extra,
            db: database.db,
            onProgress: (done, total) => !options.dryRun && io.err(`replayed ${done}/${total}`),
            onEvent: (e) => {
              if (!options.dryRun) return;
              if (json) io.out(JSON.stringify(e));
              else io.out(`${e.committedAt.toISOString()} ${e.commandId} #${e.position} ${e.id} ${e.subject} -> ${e.target}`);
            },
          }),
        ),
      );
    const report: ReplayReport = options.dryRun ? await run({}) : await withNats(config, "replay", (nc) => run({ js: jetstream(nc) }));
    const target = options.toSubjectPrefix ? `${options.toSubjectPrefix}.<subject>` : "the original subjects";
    if (json) io.out(JSON.stringify({ ...report, target }));
    else if (report.dryRun) io.out(`would replay ${report.total} event(s) of ${options.domain} to ${target}`);
    else io.out(`replayed ${report.total} event(s) of ${options.domain} to ${target}: ${report.published} published, ${report.duplicates} dropped as duplicates`);
    if (!report.dryRun && report.duplicates > 0 && !options.toSubjectPrefix) {
      io.err("events dropped as duplicates were inside the stream's duplicate window; --to-subject-prefix re-targets to another subject tree");
    }
    return EXIT.ok;
  },
};
