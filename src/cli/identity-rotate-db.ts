import { resolve } from "node:path";
import type { HeraldConfig } from "../config.js";
import { loadConfig } from "../config.js";
import type { Database } from "../db/connection.js";
import { MissingRoleError, rotateDatabasePasswords } from "../identity/db-passwords.js";
import { parseDuration } from "../identity/duration.js";
import { InvalidNameError } from "../security/naming.js";
import { CliError } from "./cli-error.js";
import type { CliCommand, CliIo } from "./command.js";
import { EXIT, parseCli, withDatabase } from "./ops-support.js";

/** What `--domain`, `--role`, `--dir` and `--valid-for` ask for, shared with `herald migrate --rotate-credentials`. */
export interface RotateRequest {
  domains: string[];
  roles: string[];
  dir?: string;
  validFor?: string;
}

/** Rotates with an open admin connection and prints one line per role (never a password). */
export async function runRotation(database: Database<any>, request: RotateRequest, config: HeraldConfig, io: CliIo): Promise<void> {
  const dirFlag = request.dir ?? config.HERALD_DB_PASSWORD_DIR;
  if (!dirFlag) throw new CliError("--password-dir <dir> is required (or set HERALD_DB_PASSWORD_DIR)", EXIT.usage);
  const validForSeconds = parseDuration(request.validFor ?? config.HERALD_DB_PASSWORD_VALID_FOR);
  if (!validForSeconds) throw new CliError("--valid-for must be a duration like 12h or 7d", EXIT.usage);
  try {
    const rotated = await rotateDatabasePasswords({ db: database.db, dir: resolve(io.cwd, dirFlag), domains: request.domains, roles: request.roles, validForSeconds });
    for (const r of rotated) io.out(`rotated ${r.role}: password in ${r.file}, valid until ${r.validUntil.toISOString()}`);
  } catch (err) {
    if (err instanceof MissingRoleError || err instanceof InvalidNameError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

export const rotateOptions = {
  domain: { type: "string", multiple: true },
  role: { type: "string", multiple: true },
  "password-dir": { type: "string" },
  "valid-for": { type: "string" },
} as const;

export const identityRotateDbCommand: CliCommand = {
  name: "rotate-db",
  summary: "give each Herald database role a fresh password with VALID UNTIL, written where DATABASE_PASSWORD_FILE reads it",
  usage: "herald identity rotate-db (--domain <name> | --role <role>)... [--password-dir <dir>] [--valid-for <duration>]",
  help: `For PostgreSQL (no JWT login): ALTER ROLE ... WITH LOGIN PASSWORD ... VALID UNTIL
for each role, as DATABASE_URL's admin, and writes <dir>/<role>.password (mode
0600, replaced atomically): point each worker's DATABASE_PASSWORD_FILE at its
file. The old password stops working at once; open sessions stay. Run it more
often than --valid-for (herald migrate --rotate-credentials does it too).

Options:
  --domain <name>          rotate herald_<name>_worker, _cdc and _operator (those
                           that exist); repeatable
  --role <role>            rotate this role too (it must exist); repeatable
  --password-dir <dir>     where the files go (default HERALD_DB_PASSWORD_DIR)
  --valid-for <duration>   e.g. 12h, 7d (default HERALD_DB_PASSWORD_VALID_FOR, 7d)
  -h, --help               show this help`,
  async run(argv, io) {
    const { values } = parseCli(argv, rotateOptions);
    const request = { domains: values.domain ?? [], roles: values.role ?? [], dir: values["password-dir"], validFor: values["valid-for"] };
    if (request.domains.length + request.roles.length === 0) throw new CliError("name at least one --domain or --role", EXIT.usage);
    const config = loadConfig();
    await withDatabase(config, "identity-rotate-db", (database) => runRotation(database, request, config, io));
    return EXIT.ok;
  },
};
