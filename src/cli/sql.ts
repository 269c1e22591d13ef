import { parseArgs } from "node:util";
import { multiRegionSql, type AppPlacementOptions, type SurvivalGoal } from "../db/multi-region.js";
import { coreMigrationsFolder, HERALD_BOOKKEEPING_TABLES } from "../db/migrator.js";
import { tablesInMigrations } from "../security/sql-tables.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { loadApp } from "./load-app.js";

/** The app's domain and the tables its migrations create. */
async function appTables(module: string, global: string | undefined, cwd: string): Promise<AppPlacementOptions> {
  const app = await loadApp(module, cwd);
  const tables = app.migrations ? await tablesInMigrations(app.migrations) : [];
  return { domain: app.domain, tables, global: global?.split(",").map((t) => t.trim()).filter(Boolean) };
}

export const sqlCommand: CliCommand = {
  name: "sql",
  summary: "print DDL for a CockroachDB layout (--multi-region)",
  usage: "herald sql --multi-region --regions <a,b,c> [--app <module>] [--global <t,...>] [--database <name>] [--survive zone|region]",
  help: `Prints SQL for an admin to review and run; connects to nothing.

  --multi-region        the multi-region layout of Herald's tables: database regions,
                        REGIONAL BY ROW command, outbox, inbox and dead-letter tables
                        (homed in the writer's region), GLOBAL migration tables
  --regions <a,b,c>     cluster regions, the primary first (required)
  --app <module>        also place the app's tables (REGIONAL BY ROW) and its
                        migration tables (GLOBAL)
  --global <t,...>      app tables to make GLOBAL instead (read everywhere,
                        rarely written), with --app
  --database <name>     database to alter (default: defaultdb)
  --survive <goal>      zone (default) or region (needs 3 regions or more)
  -h, --help            show this help

See docs/cockroachdb.md for the trade-offs and for how workers in each region
pick up their own commands.`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        "multi-region": { type: "boolean" },
        regions: { type: "string" },
        database: { type: "string" },
        survive: { type: "string" },
        app: { type: "string" },
        global: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values["multi-region"]) throw new CliError("herald sql prints one layout for now: pass --multi-region", 2);
    if (values.regions === undefined) throw new CliError("--multi-region needs --regions, e.g. --regions us-east1,us-west1,europe-west1", 2);
    if (values.global !== undefined && values.app === undefined) throw new CliError("--global names app tables: pass --app too", 2);
    const tables = [...(await tablesInMigrations(coreMigrationsFolder())), ...HERALD_BOOKKEEPING_TABLES];
    const app = values.app === undefined ? undefined : await appTables(values.app, values.global, io.cwd);
    // Built in full before anything is printed: bad input prints nothing.
    const text = multiRegionSql({ regions: values.regions, database: values.database, survive: values.survive as SurvivalGoal | undefined, tables, app });
    io.out(text);
    return 0;
  },
};
