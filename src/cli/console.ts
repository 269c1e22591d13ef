import { loadConfig, type HeraldConfig } from "../config.js";
import { startConsole } from "../console/server.js";
import { oidcAuthenticator } from "../console/oidc-auth.js";
import { tokenAuthenticator, type OperatorAuthenticator } from "../console/operator-auth.js";
import { loadPolicy } from "../identity/policy.js";
import { connectDatabase } from "../db/connection.js";
import { coreMigrationsFolder } from "../db/migrator.js";
import { writableHeraldTables } from "../operations/domains.js";
import { tablesInMigrations } from "../security/sql-tables.js";
import { connectNats } from "../messaging/connection.js";
import { retentionFromConfig } from "../operations/prune.js";
import { defaultStreamName } from "../protocol/subjects.js";
import { redactUrl } from "../security/redact.js";
import { createLogger } from "../telemetry/logger.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { databaseOptionsFromConfig, natsOptionsFromConfig } from "./connection-options.js";
import { EXIT, parseCli } from "./ops-support.js";

/** The console's database: its own role's URL when given, else the workers'. */
function consoleDatabase(config: HeraldConfig) {
  const base = databaseOptionsFromConfig(config);
  if (!config.HERALD_CONSOLE_DATABASE_URL) return base;
  return { ...base, url: config.HERALD_CONSOLE_DATABASE_URL, passwordFile: config.HERALD_CONSOLE_DATABASE_PASSWORD_FILE };
}

/** The operator credential of the actions: OIDC tokens under a role policy, or the shared operator token. */
async function operatorAuthenticator(config: HeraldConfig): Promise<OperatorAuthenticator> {
  const policyFile = config.HERALD_CONSOLE_OIDC_POLICY_FILE;
  const tokenFile = config.HERALD_CONSOLE_OPERATOR_TOKEN_FILE;
  if (policyFile && tokenFile) throw new CliError("set one of HERALD_CONSOLE_OIDC_POLICY_FILE and HERALD_CONSOLE_OPERATOR_TOKEN_FILE, not both", EXIT.usage);
  if (!policyFile && !tokenFile) {
    throw new CliError("HERALD_CONSOLE_ACTIONS needs HERALD_CONSOLE_OPERATOR_TOKEN_FILE (the operator token) or HERALD_CONSOLE_OIDC_POLICY_FILE (OIDC operators)", EXIT.usage);
  }
  const made = policyFile ? loadPolicy(policyFile).then((policy) => oidcAuthenticator(policy)) : tokenAuthenticator(tokenFile!);
  return made.catch((err: Error) => {
    throw new CliError(err.message, EXIT.usage);
  });
}

export const consoleCommand: CliCommand = {
  name: "console",
  summary: "serve the operator console (overview, commands, dead letters, live) in the browser",
  usage: "herald console [--host <addr>] [--port <n>]",
  help: `Serves the web console on HERALD_CONSOLE_HOST:HERALD_CONSOLE_PORT (default
127.0.0.1:8090): per domain an overview (commands per second, p50/p99, retries,
outbox backlog, stream sequence, consumer lag and dead letters, CDC slots,
workers online), commands (find by key or id, filter, one command's input,
reply, attempts and events), dead letters, the operator log, and a live view.

It reads with HERALD_CONSOLE_DATABASE_URL (default DATABASE_URL): give it the
role of \`herald grants --console\`, SELECT only. HERALD_CONSOLE_ACTIONS=true
turns on redrive, replay and prune, which need the operator token
(HERALD_CONSOLE_OPERATOR_TOKEN_FILE) or an OIDC token the role policy maps to
operator (HERALD_CONSOLE_OIDC_POLICY_FILE), and the role of
\`herald grants --console --actions\`; each action is confirmed and recorded.

Options:
  --host <addr>   interface (default HERALD_CONSOLE_HOST, 127.0.0.1)
  --port <n>      port (default HERALD_CONSOLE_PORT, 8090)
  -h, --help      show this help`,
  async run(argv, io) {
    const { values } = parseCli(argv, { host: { type: "string" }, port: { type: "string" } });
    const config = loadConfig();
    const port = values.port === undefined ? config.HERALD_CONSOLE_PORT : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new CliError(`--port "${values.port}" must be 0-65535`, EXIT.usage);
    const authenticator = config.HERALD_CONSOLE_ACTIONS ? await operatorAuthenticator(config) : undefined;
    const logger = createLogger({ level: config.LOG_LEVEL });
    const dbOptions = consoleDatabase(config);
    const database = await connectDatabase({ ...dbOptions, poolMax: 4, applicationName: "herald-console" });
    const nc = await connectNats({ ...natsOptionsFromConfig(config), name: "herald-console", logger });
    const console = await startConsole({
      db: database.db,
      dialect: database.dialect,
      nc,
      host: values.host ?? config.HERALD_CONSOLE_HOST,
      port,
      actions: config.HERALD_CONSOLE_ACTIONS,
      authenticator,
      jaegerUrl: config.HERALD_CONSOLE_JAEGER_URL,
      streamOf: (domain) => (domain === config.HERALD_DOMAIN && config.HERALD_STREAM ? config.HERALD_STREAM : defaultStreamName(domain)),
      retention: retentionFromConfig(config),
      logger,
    }).catch(async (err) => {
      await nc.close().catch(() => undefined);
      await database.destroy();
      throw err;
    });
    if (!config.HERALD_CONSOLE_ACTIONS) {
      const writable = await writableHeraldTables(database.db, await tablesInMigrations(coreMigrationsFolder())).catch(() => []);
      if (writable.length > 0) {
        logger.warn({ tables: writable }, "the console's database role may write Herald's tables although actions are off: give it the role of `herald grants --console` (HERALD_CONSOLE_DATABASE_URL)");
      }
    }
    logger.info({ url: console.url, database: redactUrl(dbOptions.url), actions: config.HERALD_CONSOLE_ACTIONS }, "console listening");
    io.out(`herald console: listening on ${console.url}${config.HERALD_CONSOLE_ACTIONS ? " (actions on)" : " (read-only)"}`);
    await io.stopSignal;
    await console.close();
    await nc.close().catch(() => undefined);
    await database.destroy();
    return EXIT.ok;
  },
};
