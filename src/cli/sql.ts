import { parseArgs } from "node:util";
import { multiRegionSql, type SurvivalGoal } from "../db/multi-region.js";
import { coreMigrationsFolder, HERALD_BOOKKEEPING_TABLES } from "../db/migrator.js";
import { tablesInMigrations } from "../security/sql-tables.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";

export const sqlCommand: CliCommand = {
  name: "sql",
  summary: "print DDL for a CockroachDB layout (--multi-region)",
  usage: "herald sql --multi-region --regions <a,b,c> [--database <name>] [--survive zone|region]",
  help: `Prints SQL for an admin to review and run; connects to nothing.

  --multi-region        the multi-region layout of Herald's tables: database regions,
                        REGIONAL BY ROW command, outbox, inbox and dead-letter tables
                        (homed in the writer's region), GLOBAL migration tables
  --regions <a,b,c>     cluster regions, the primary first (required)
  --database <name>     database to alter (default: defaultdb)
  --survive <goal>      zone (default) or region (needs 3 regions or more)
  -h, --help            show this help

See docs/cockroachdb.md for the trade-offs and for how workers in each region
pick up their own commands.`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: { "multi-region": { type: "boolean" }, regions: { type: "string" }, database: { type: "string" }, survive: { type: "string" } },
      strict: true,
      allowPositionals: false,
    });
    if (!values["multi-region"]) throw new CliError("herald sql prints one layout for now: pass --multi-region", 2);
    if (values.regions === undefined) throw new CliError("--multi-region needs --regions, e.g. --regions us-east1,us-west1,europe-west1", 2);
    const tables = [...(await tablesInMigrations(coreMigrationsFolder())), ...HERALD_BOOKKEEPING_TABLES];
    // Built in full before anything is printed: bad input prints nothing.
    const text = multiRegionSql({ regions: values.regions, database: values.database, survive: values.survive as SurvivalGoal | undefined, tables });
    io.out(text);
    return 0;
  },
};
