import { loadConfig } from "../config.js";
import { connectDatabase } from "../db/connection.js";
import { migrateApp } from "../db/migrate-app.js";
import { databaseOptionsFromConfig } from "./connection-options.js";
import { loadApp } from "./load-app.js";
import { CliError } from "./cli-error.js";
import { runRotation, rotateOptions } from "./identity-rotate-db.js";
import { EXIT, parseCli } from "./ops-support.js";
import type { CliCommand } from "./command.js";

export const migrateCommand: CliCommand = {
  name: "migrate",
  summary: "apply Herald's migrations and the app's to DATABASE_URL",
  usage: "herald migrate [--app <module>] [--rotate-credentials --domain <name>... [--password-dir <dir>]]",
  help: `Applies migrations/ (Herald's tables) and then the app's own migrations.
Safe to run from several processes at once: a lease lock on a table row lets
one migrator in at a time (CockroachDB has no advisory locks).

Options:
  --app <module>          app whose migrations to apply (default: the bank domain)
  --rotate-credentials    then give the Herald roles fresh passwords, as
                          herald identity rotate-db does (--domain, --role,
                          --password-dir, --valid-for as there; --domain
                          defaults to the app's)
  -h, --help              show this help`,
  async run(argv, io) {
    const { values } = parseCli(argv, { app: { type: "string" }, "rotate-credentials": { type: "boolean" }, ...rotateOptions });
    const rotating = values["rotate-credentials"] ?? false;
    const rotateFlags = ["domain", "role", "password-dir", "valid-for"] as const;
    if (!rotating && rotateFlags.some((f) => values[f] !== undefined)) throw new CliError("--domain, --role, --password-dir and --valid-for go with --rotate-credentials", EXIT.usage);
    const config = loadConfig();
    // Checked before migrating: bad input changes nothing.
    if (rotating && !(values["password-dir"] ?? config.HERALD_DB_PASSWORD_DIR)) throw new CliError("--rotate-credentials needs --password-dir <dir> (or HERALD_DB_PASSWORD_DIR)", EXIT.usage);
    const app = await loadApp(values.app, io.cwd);
    // Schema changes may run long on big tables: no statement or lock bound here.
    const timeouts = { statementTimeoutMs: 0, lockTimeoutMs: 0, idleInTransactionTimeoutMs: config.HERALD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS };
    const database = await connectDatabase({ ...databaseOptionsFromConfig(config), timeouts, poolMax: 2, applicationName: "herald-migrate" });
    try {
      const { applied } = await migrateApp(database.db, app);
      io.out(applied.length ? `applied ${applied.length} migration(s): ${applied.join(", ")}` : "database is up to date");
      if (rotating) {
        const domains = values.domain ?? (values.role ? [] : [config.HERALD_DOMAIN ?? app.domain]);
        await runRotation(database, { domains, roles: values.role ?? [], dir: values["password-dir"], validFor: values["valid-for"] }, config, io);
      }
      return 0;
    } finally {
      await database.destroy();
    }
  },
};
