import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { connectDatabase } from "../db/connection.js";
import { coreMigrationsFolder, workerUsesTable } from "../db/migrator.js";
import { auditSecurity, type AuditDomain } from "../security/audit.js";
import { renderFindings } from "../security/audit-report.js";
import { readDatabaseGrants } from "../security/db-grants.js";
import { assertDomainName } from "../security/naming.js";
import { NatsConfigSyntaxError, parseNatsConfig } from "../security/nats-config-parser.js";
import { natsUsersFromConfig, type NatsUser } from "../security/nats-users.js";
import { tablesInMigrations } from "../security/sql-tables.js";
import { CliError } from "./cli-error.js";
import { identityAuditParts } from "./identity-audit-input.js";
import type { CliCommand } from "./command.js";
import { databaseOptionsFromConfig } from "./connection-options.js";
import { loadApp } from "./load-app.js";

/** Exit code for "could not audit" (bad option, unreadable file, bad syntax), apart from 1 = findings. */
const CANNOT_AUDIT = 2;

export const auditCommand: CliCommand = {
  name: "audit",
  summary: "check that NATS permissions and database grants agree, domain by domain",
  usage: "herald audit (--nats-config <file> | --identity-dir <dir>) [--policy <file>] [--domain <name>]... [--app <module>] [--json]",
  help: `Reads the users of a nats-server config file (the top-level authorization
block and every account), the table grants of DATABASE_URL's database
(information_schema.role_table_grants; run as an admin) and the app's tables,
and reports every disagreement:

  events-without-grants  a user may publish <domain>.evt.> but the database role
                         of the same name cannot write the domain's tables
  foreign-grants         a worker role (herald_<domain>_worker) holds grants on
                         another domain's tables
  two-owners             two users may publish one domain's events (or take its
                         commands) in one account
  unscoped-wildcard      an allowance starting with a wildcard (>, *.>) or none
  no-worker              nobody may publish the domain's events

A NATS user and a database role are the same party when they share a name.
A domain owns the tables its app's migrations create and those named
<domain>_...; Herald's own tables are shared.

Exit status: 0 consistent, 1 findings, 2 the audit could not run (bad option,
unreadable or malformed config).

Options:
  --nats-config <file>  nats-server configuration to read (required)
  --domain <name>       domain to audit; repeatable (default: the app's)
  --app <module>        app whose migrations define the tables (default: the bank domain);
                        they belong to its domain, or else to the first --domain
  --cdc-table <name>    a table the CDC bridge of the app's domain streams; repeatable.
                        Reported: a table of two domains (two-owners), and any user but
                        herald_<domain>_cdc that may publish <domain>.cdc.> (cdc-foreign-publisher)
  --identity-dir <dir>  also audit herald identity init's setup: each scoped signing
                        key's template is audited as a user (against the grants), and
                        must equal its role's herald permissions entry (template-drift)
                        and stay in its domain (beyond-domain)
  --policy <file>       with --identity-dir: every role the policy grants must have a
                        signing key and, for worker/cdc/operator, a database role
                        (unknown-role)
  --json                print JSON instead of a table
  -h, --help            show this help`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        "nats-config": { type: "string" },
        domain: { type: "string", multiple: true },
        app: { type: "string" },
        "cdc-table": { type: "string", multiple: true },
        json: { type: "boolean", default: false },
        "identity-dir": { type: "string" },
        policy: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (!values["nats-config"] && !values["identity-dir"]) throw new CliError("--nats-config <file> or --identity-dir <dir> is required", CANNOT_AUDIT);
    if (values.policy && !values["identity-dir"]) throw new CliError("--policy goes with --identity-dir", CANNOT_AUDIT);
    const given = (values.domain ?? []).map((d) => {
      try {
        return assertDomainName(d);
      } catch (err) {
        throw new CliError((err as Error).message, CANNOT_AUDIT);
      }
    });
    const config = loadConfig();
    const app = await loadApp(values.app, io.cwd);
    const domains = given.length ? [...new Set(given)] : [app.domain];
    let users: NatsUser[] = [];
    try {
      if (values["nats-config"]) users = natsUsersFromConfig(parseNatsConfig(await readFile(resolve(io.cwd, values["nats-config"]), "utf8")));
    } catch (err) {
      const reason = err instanceof NatsConfigSyntaxError ? err.message : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      throw new CliError(`cannot read NATS config ${values["nats-config"]}: ${reason}`, CANNOT_AUDIT);
    }
    const [heraldTables, appTables] = await Promise.all([
      tablesInMigrations(coreMigrationsFolder()).then((tables) => tables.filter(workerUsesTable)),
      app.migrations ? tablesInMigrations(app.migrations) : Promise.resolve([]),
    ]);
    // Like `herald start --domain`: an app may be served under another name.
    const appDomain = domains.includes(app.domain) ? app.domain : domains[0];
    const cdcTables = values["cdc-table"] ?? [];
    const auditDomains: AuditDomain[] = domains.map((domain) => ({
      domain,
      tables: domain === appDomain ? appTables : [],
      ...(domain === appDomain && cdcTables.length ? { cdcTables } : {}),
    }));

    const database = await connectDatabase({ ...databaseOptionsFromConfig(config), poolMax: 3, applicationName: "herald-audit" });
    let grants;
    try {
      grants = await readDatabaseGrants(database.db);
    } finally {
      await database.destroy();
    }
    const identity = values["identity-dir"] ? await identityAuditParts(resolve(io.cwd, values["identity-dir"]), values.policy && resolve(io.cwd, values.policy), grants) : undefined;
    users = [...users, ...(identity?.users ?? [])];
    const findings = [...auditSecurity({ domains: auditDomains, heraldTables, users, database: grants }), ...(identity?.findings ?? [])];
    if (values.json) io.out(JSON.stringify({ consistent: findings.length === 0, domains, findings }, null, 2));
    else if (findings.length === 0) io.out(`consistent: ${users.length} NATS user(s), domain(s) ${domains.join(", ")}`);
    else io.out(`${renderFindings(findings)}\n\n${findings.length} finding(s)`);
    return findings.length === 0 ? 0 : 1;
  },
};
