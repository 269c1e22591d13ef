import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { loadConfig } from "../config.js";
import { connectDatabase } from "../db/connection.js";
import type { HeraldTables } from "../db/schema.js";
import { startIssuerServer } from "../identity/issuer-server.js";
import { readManifest } from "../identity/nats-account.js";
import { loadPolicy, PolicyError } from "../identity/policy.js";
import { createTokenVerifier } from "../identity/token-verifier.js";
import { startPruner } from "../operations/pruner.js";
import { createLogger } from "../telemetry/logger.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { databaseOptionsFromConfig } from "./connection-options.js";
import { EXIT, parseCli } from "./ops-support.js";

export const identityServeCommand: CliCommand = {
  name: "serve",
  summary: "serve POST /v1/nats/credentials: OIDC token in, short-lived NATS user JWT out",
  usage: "herald identity serve [--policy <file>] [--dir <dir>] [--insecure-loopback]",
  help: `Verifies each request's OIDC token (discovery, JWKS, iss, aud, exp, nbf, an
algorithm allow-list), checks the policy grants the requested role, signs a
user JWT for the caller's public NKey with the role's scoped signing key,
records the issuance in DATABASE_URL's database and answers it. Serves HTTPS
with HERALD_IDENTITY_CERT_FILE and HERALD_IDENTITY_KEY_FILE on
HERALD_IDENTITY_HOST:HERALD_IDENTITY_PORT (default 127.0.0.1:8444). Stops on
SIGTERM. Issuance records past HERALD_IDENTITY_RETENTION_HOURS are pruned.

Options:
  --policy <file>      role policy (default HERALD_IDENTITY_POLICY_FILE)
  --dir <dir>          what herald identity init wrote (default HERALD_IDENTITY_DIR)
  --insecure-loopback  plain HTTP, allowed only on a loopback host (local use)
  -h, --help           show this help`,
  async run(argv, io) {
    const { values } = parseCli(argv, { policy: { type: "string" }, dir: { type: "string" }, "insecure-loopback": { type: "boolean" } });
    const config = loadConfig();
    const policyFile = values.policy ?? config.HERALD_IDENTITY_POLICY_FILE;
    if (!policyFile) throw new CliError("--policy <file> is required (or set HERALD_IDENTITY_POLICY_FILE)", EXIT.usage);
    const policy = await loadPolicy(resolve(io.cwd, policyFile)).catch((err: unknown) => {
      throw err instanceof PolicyError ? new CliError(err.message, EXIT.usage) : err;
    });
    const dir = resolve(io.cwd, values.dir ?? config.HERALD_IDENTITY_DIR);
    if (!(await readManifest(dir))) throw new CliError(`${dir} holds no identity setup: run herald identity init first`, EXIT.usage);
    const insecure = values["insecure-loopback"] ?? false;
    if (!insecure && !(config.HERALD_IDENTITY_CERT_FILE && config.HERALD_IDENTITY_KEY_FILE)) {
      throw new CliError("the issuer serves HTTPS: set HERALD_IDENTITY_CERT_FILE and HERALD_IDENTITY_KEY_FILE (or --insecure-loopback on a loopback host)", EXIT.usage);
    }
    const tls = insecure ? undefined : { cert: await readFile(config.HERALD_IDENTITY_CERT_FILE!, "utf8"), key: await readFile(config.HERALD_IDENTITY_KEY_FILE!, "utf8") };
    const logger = createLogger({ level: config.LOG_LEVEL });
    const database = await connectDatabase<HeraldTables>({ ...databaseOptionsFromConfig(config), poolMax: 4, applicationName: "herald-identity" });
    const pruner = startPruner({ db: database.db, domain: undefined, targets: ["issuances"], identityRetentionHours: config.HERALD_IDENTITY_RETENTION_HOURS, logger });
    let server;
    try {
      server = await startIssuerServer({
        policy,
        verifier: createTokenVerifier(policy),
        dir,
        db: database.db,
        host: config.HERALD_IDENTITY_HOST,
        port: config.HERALD_IDENTITY_PORT,
        tls,
        insecureLoopback: insecure,
        logger,
      });
    } catch (err) {
      await pruner.stop();
      await database.destroy();
      throw new CliError(`cannot serve: ${(err as Error).message}`);
    }
    io.out(`identity issuer listening on ${server.url}`);
    await io.stopSignal;
    await server.close();
    await pruner.stop();
    await database.destroy();
    return EXIT.ok;
  },
};
