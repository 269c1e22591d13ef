import type { HeraldConfig } from "../config.js";
import type { DatabaseOptions } from "../db/connection.js";
import type { NatsOptions } from "../messaging/connection.js";
import { NatsAuthError, natsAuthConnectionOptions } from "../messaging/nats-auth.js";
import { CliError } from "./cli-error.js";

/**
 * NATS servers, credentials and TLS from the environment, for every CLI
 * command that connects to NATS: `connectNats({ ...natsOptionsFromConfig(config), name, logger })`.
 * Throws a CliError naming the variables when they do not fit together.
 */
export function natsOptionsFromConfig(config: HeraldConfig, identity?: { domain: string; role: string }): Omit<NatsOptions, "name" | "logger"> {
  const options: Omit<NatsOptions, "name" | "logger"> = {
    oidc: oidcFromConfig(config, identity),
    servers: config.NATS_URL,
    user: config.NATS_USER,
    password: config.NATS_PASSWORD,
    token: config.NATS_TOKEN,
    nkeySeedFile: config.NATS_NKEY_SEED_FILE,
    credsFile: config.NATS_CREDS_FILE,
    tls: { caFile: config.NATS_TLS_CA_FILE, certFile: config.NATS_TLS_CERT_FILE, keyFile: config.NATS_TLS_KEY_FILE },
  };
  try {
    // Checked here, before connecting, so a bad combination is one clear line.
    natsAuthConnectionOptions(options);
    if (options.oidc && [options.user, options.token, options.nkeySeedFile, options.credsFile].some(Boolean)) {
      throw new NatsAuthError("use one NATS authentication: NATS_OIDC_TOKEN_FILE or the others");
    }
  } catch (err) {
    if (!(err instanceof NatsAuthError)) throw err;
    const names = "NATS_OIDC_TOKEN_FILE, NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED_FILE, NATS_CREDS_FILE, NATS_TLS_CERT_FILE/NATS_TLS_KEY_FILE";
    throw new CliError(`${err.message} (check ${names})`);
  }
  return options;
}

/**
 * The OIDC login when NATS_OIDC_TOKEN_FILE is set: HERALD_IDENTITY_URL must be
 * too, and the command must say which domain it acts for (its role is
 * HERALD_IDENTITY_ROLE, else the command's own).
 */
function oidcFromConfig(config: HeraldConfig, identity: { domain: string; role: string } | undefined): NatsOptions["oidc"] {
  if (!config.NATS_OIDC_TOKEN_FILE) return undefined;
  if (!config.HERALD_IDENTITY_URL) throw new CliError("NATS_OIDC_TOKEN_FILE needs HERALD_IDENTITY_URL (the identity issuer)");
  const domain = identity?.domain ?? config.HERALD_DOMAIN;
  const role = config.HERALD_IDENTITY_ROLE ?? identity?.role;
  if (!domain || !role) throw new CliError("NATS_OIDC_TOKEN_FILE: this command needs HERALD_DOMAIN and HERALD_IDENTITY_ROLE to know which role to ask for");
  return { tokenFile: config.NATS_OIDC_TOKEN_FILE, issuerUrl: config.HERALD_IDENTITY_URL, caFile: config.HERALD_IDENTITY_CA_FILE, domain, role };
}

/** The database URL and password file from the environment; callers add pool size and name. */
export function databaseOptionsFromConfig(config: HeraldConfig): Pick<DatabaseOptions, "url" | "passwordFile" | "timeouts"> {
  return {
    url: config.DATABASE_URL,
    passwordFile: config.DATABASE_PASSWORD_FILE,
    timeouts: {
      statementTimeoutMs: config.HERALD_DB_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: config.HERALD_DB_LOCK_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.HERALD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
  };
}
