import { loadConfig } from "../config.js";
import { addTablesSql, publicationDrift } from "../cdc/postgres-publication.js";
import { postgresSlotStatus } from "../cdc/postgres-status.js";
import { parsePositiveInt } from "../operations/inputs.js";
import { CliError } from "./cli-error.js";
import { CDC_OPTIONS, cdcSettings } from "./cdc-options.js";
import type { CliCommand } from "./command.js";
import { EXIT, operationSync, parseCli } from "./ops-support.js";

const MIB = 1024 * 1024;

export const cdcStatusCommand: CliCommand = {
  name: "status",
  summary: "show the CDC slot's position, lag and retained WAL; exit 3 when it is stuck (health check)",
  usage: "herald cdc status [--slot <name>] [--table <name>...] [--publication <name>] [--max-retained-mb <n>] [--json]",
  help: `Reads the replication slot from pg_replication_slots: whether a bridge streams
from it, the position it has acked (confirmed flush LSN), how many bytes of WAL
it is behind, the server's measured flush lag, and how much WAL the server
keeps for it. A slot nobody reads keeps WAL forever and fills the disk: the
command exits 3 when the slot is inactive, lost, or retains more than
--max-retained-mb, for health checks. With the watched tables (--table or
HERALD_CDC_TABLES) it also exits 3 when the publication lacks one of them,
and prints the ALTER PUBLICATION that adds it.

Options:
  --slot <name>           replication slot (default: HERALD_CDC_SLOT, herald_cdc)
  --table <name>          watched table to find in the publication; repeatable (default: HERALD_CDC_TABLES)
  --publication <name>    publication (default: HERALD_CDC_PUBLICATION, herald_cdc)
  --max-retained-mb <n>   retained WAL threshold (default: HERALD_CDC_MAX_RETAINED_MB, 1024)
  --json                  the status as one JSON object
  -h, --help              show this help

Exit codes: 0 healthy, 1 failure (no such slot), 2 bad usage, 3 inactive, lost, retaining too much WAL,
or a watched table missing from the publication.`,
  async run(argv, io) {
    const { values } = parseCli(argv, { ...CDC_OPTIONS, "max-retained-mb": { type: "string" }, json: { type: "boolean" } });
    const config = loadConfig();
    // Tables are not needed to read a slot; when known, the publication must list them.
    const tablesKnown = values.table !== undefined || config.HERALD_CDC_TABLES !== undefined;
    const settings = cdcSettings({ ...values, table: tablesKnown ? values.table : ["unused"] }, config, "cdc");
    const maxMb = values["max-retained-mb"] === undefined ? config.HERALD_CDC_MAX_RETAINED_MB : operationSync(() => parsePositiveInt(values["max-retained-mb"]!, "--max-retained-mb", 10_000_000));
    if (settings.source === "cockroachdb") {
      // The changefeed's cursor lives in its CockroachDB job, not in Herald.
      throw new CliError("cdc status reads a PostgreSQL slot; for a CockroachDB changefeed run SHOW CHANGEFEED JOBS (high-water timestamp, status) and watch herald.cdc.lag", EXIT.usage);
    }
    const status = await postgresSlotStatus(settings.target, settings.slot);
    if (!status) throw new CliError(`no replication slot "${settings.slot}" (run \`herald cdc setup\`, or start the bridge)`, EXIT.failed);
    const problems: string[] = [];
    if (!status.active) problems.push("no bridge is streaming from it");
    if (status.walStatus === "lost") problems.push("the server removed WAL it still needed (wal_status lost): the slot must be recreated");
    if (status.retainedBytes !== null && status.retainedBytes > maxMb * MIB) problems.push(`it retains ${Math.round(status.retainedBytes / MIB)} MiB of WAL (threshold ${maxMb} MiB)`);
    const missing = tablesKnown ? await publicationDrift(settings.target, settings) : [];
    if (missing.length > 0) problems.push(`publication ${settings.publication} lacks ${missing.join(", ")}, whose changes are never streamed; add them: ${addTablesSql(settings.publication, missing)}`);
    if (values.json) io.out(JSON.stringify({ ...status, missingFromPublication: missing, maxRetainedBytes: maxMb * MIB, healthy: problems.length === 0, problems }));
    else {
      io.out(
        `slot ${status.slot}: ${status.active ? "active" : "inactive"}, acked ${status.confirmedFlushLsn ?? "-"} of ${status.currentLsn}, ` +
          `behind ${status.lagBytes ?? "-"} bytes, flush lag ${status.flushLagMs ?? 0} ms, retains ${status.retainedBytes ?? "-"} bytes (wal_status ${status.walStatus ?? "-"})`,
      );
    }
    if (problems.length === 0) return EXIT.ok;
    io.err(`herald cdc status: slot ${status.slot}: ${problems.join("; ")}`);
    return EXIT.unhealthy;
  },
};
