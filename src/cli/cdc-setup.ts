import { loadConfig } from "../config.js";
import { cockroachSetupOptions } from "../cdc/cockroach-config.js";
import { cockroachSetupSql } from "../cdc/cockroach-setup.js";
import { postgresSetupSql } from "../cdc/postgres-setup.js";
import { CliError } from "./cli-error.js";
import { CDC_OPTIONS, cdcSettings } from "./cdc-options.js";
import type { CliCommand } from "./command.js";
import { EXIT, parseCli } from "./ops-support.js";

export const cdcSetupCommand: CliCommand = {
  name: "setup",
  summary: "print the SQL that prepares the database for change data capture",
  usage: "herald cdc setup [--source postgres|cockroachdb] --table <name>... [--slot <name>] [--publication <name>] [--full-before-images]",
  help: `Prints, without running it, the SQL that creates the publication over the
watched tables and the logical replication slot the bridge reads (pgoutput).
The server needs wal_level = logical. With --source cockroachdb it prints the
CREATE CHANGEFEED … INTO 'webhook-https://…' statement instead, from the
HERALD_CDC_WEBHOOK_* settings (URL, CA file, auth header). \`herald cdc start\` also creates both
when they are missing and its user may.

Options:
  --source <name>         postgres or cockroachdb (default: HERALD_CDC_SOURCE)
  --table <name>          table to watch; repeatable or comma separated (default: HERALD_CDC_TABLES)
  --slot <name>           replication slot (default: HERALD_CDC_SLOT, herald_cdc)
  --publication <name>    publication (default: HERALD_CDC_PUBLICATION, herald_cdc)
  --full-before-images    also set REPLICA IDENTITY FULL, so updates and deletes carry \`before\`
  -h, --help              show this help`,
  async run(argv, io) {
    const { values } = parseCli(argv, { ...CDC_OPTIONS, "full-before-images": { type: "boolean" } });
    const config = loadConfig();
    const settings = cdcSettings(values, config, "cdc");
    if (settings.source === "cockroachdb") {
      let options;
      try {
        options = await cockroachSetupOptions(config, settings.tables);
      } catch (err) {
        throw new CliError((err as Error).message, EXIT.usage, { cause: err });
      }
      io.out(cockroachSetupSql(options));
      return EXIT.ok;
    }
    io.out(postgresSetupSql(settings, { fullBeforeImages: values["full-before-images"] ?? false }));
    return EXIT.ok;
  },
};
