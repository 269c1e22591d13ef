import { parseArgs } from "node:util";
import type { DialectName } from "../db/connection.js";
import { coreMigrationsFolder, workerUsesTable } from "../db/migrator.js";
import { assertWatchedTable } from "../cdc/change-message.js";
import { cdcGrantsSql } from "../security/cdc-role.js";
import { consoleGrantsSql } from "../security/console-role.js";
import { grantsSql } from "../security/grants.js";
import { assertDomainName, assertRoleName } from "../security/naming.js";
import { tablesInMigrations } from "../security/sql-tables.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { loadApp } from "./load-app.js";

const DIALECTS: readonly DialectName[] = ["cockroachdb", "postgresql"];

export const grantsCommand: CliCommand = {
  name: "grants",
  summary: "print SQL creating a domain's database role with exactly the grants it needs",
  usage: "herald grants [--domain <name>] [--app <module>] [--dialect cockroachdb|postgresql] [--role <name>] [--cdc --table <t> | --console [--actions]]",
  help: `Prints SQL that creates the worker role of a domain and grants it SELECT,
INSERT, UPDATE and DELETE on Herald's tables and on the tables the app's
migrations create (found by reading CREATE TABLE in them), and nothing else:
no DDL, no other domain's tables. Run it as an admin after \`herald migrate\`;
migrations themselves run as a separate owner role.

Herald's tables are shared by all domains of a database (rows carry a
\`domain\` column); for strict separation give each domain its own database.

Options:
  --domain <name>      domain (default: the app's)
  --app <module>       app whose migrations define the domain's tables (default: the bank domain)
  --dialect <name>     cockroachdb (default) or postgresql
  --role <name>        role to create (default: herald_<domain>_worker, the worker's NATS user too)
  --cdc                print the CDC bridge's role instead (default name herald_<domain>_cdc):
                       PostgreSQL LOGIN REPLICATION and SELECT, CockroachDB CHANGEFEED and SELECT,
                       on the --table tables only
  --table <name>       watched table, with --cdc; repeatable
  --console            print the operator console's role instead (default name
                       herald_<domain>_console): SELECT on Herald's tables only
  --actions            with --console: also what its actions write (redrive, replay,
                       prune: DELETE on the growing tables, INSERT on the operator log)
  -h, --help           show this help`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        domain: { type: "string" },
        app: { type: "string" },
        dialect: { type: "string" },
        role: { type: "string" },
        cdc: { type: "boolean", default: false },
        table: { type: "string", multiple: true },
        console: { type: "boolean", default: false },
        actions: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.domain !== undefined) assertDomainName(values.domain);
    if (values.role !== undefined) assertRoleName(values.role);
    const dialect = (values.dialect ?? "cockroachdb") as DialectName;
    if (!DIALECTS.includes(dialect)) throw new CliError(`--dialect must be cockroachdb or postgresql, not ${JSON.stringify(values.dialect)}`);
    if (values.cdc) {
      if (!values.table?.length) throw new CliError("--cdc needs the watched tables: --table <name> (repeatable)");
      const domain = values.domain ?? (await loadApp(values.app, io.cwd)).domain;
      io.out(cdcGrantsSql({ domain, dialect, role: values.role, tables: values.table.flatMap((t) => t.split(",")).map((t) => assertWatchedTable(t.trim())) }));
      return 0;
    }
    if (values.actions && !values.console) throw new CliError("--actions goes with --console");
    if (values.console) {
      const domain = values.domain ?? (await loadApp(values.app, io.cwd)).domain;
      const heraldTables = await tablesInMigrations(coreMigrationsFolder());
      io.out(consoleGrantsSql({ domain, dialect, role: values.role, heraldTables, actions: values.actions }));
      return 0;
    }
    const app = await loadApp(values.app, io.cwd);
    const [heraldTables, domainTables] = await Promise.all([
      tablesInMigrations(coreMigrationsFolder()).then((tables) => tables.filter(workerUsesTable)),
      app.migrations ? tablesInMigrations(app.migrations) : Promise.resolve([]),
    ]);
    io.out(grantsSql({ domain: values.domain ?? app.domain, dialect, role: values.role, heraldTables, domainTables }));
    return 0;
  },
};
