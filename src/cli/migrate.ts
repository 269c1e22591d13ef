import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { connectDatabase } from "../db/connection.js";
import { migrateApp } from "../db/migrate-app.js";
import { databaseOptionsFromConfig } from "./connection-options.js";
import { loadApp } from "./load-app.js";
import type { CliCommand } from "./command.js";

export const migrateCommand: CliCommand = {
  name: "migrate",
  summary: "apply Herald's migrations and the app's to DATABASE_URL",
  usage: "herald migrate [--app <module>]",
  help: `Applies migrations/ (Herald's tables) and then the app's own migrations.
Safe to run from several processes at once: a lease lock on a table row lets
one migrator in at a time (CockroachDB has no advisory locks).

Options:
  --app <module>  app whose migrations to apply (default: the bank domain)
  -h, --help      show this help`,
  async run(argv, io) {
    const { values } = parseArgs({ args: argv, options: { app: { type: "string" } }, strict: true });
    const config = loadConfig();
    const app = await loadApp(values.app, io.cwd);
    // Schema changes may run long on big tables: no statement or lock bound here.
    const timeouts = { statementTimeoutMs: 0, lockTimeoutMs: 0, idleInTransactionTimeoutMs: config.HERALD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS };
    const database = await connectDatabase({ ...databaseOptionsFromConfig(config), timeouts, poolMax: 2, applicationName: "herald-migrate" });
    try {
      const { applied } = await migrateApp(database.db, app);
      io.out(applied.length ? `applied ${applied.length} migration(s): ${applied.join(", ")}` : "database is up to date");
      return 0;
    } finally {
      await database.destroy();
    }
  },
};
