import { resolve } from "node:path";
import { loadConfig } from "../config.js";
import { cockroachJwtSettings } from "../identity/cockroach-jwt.js";
import { loadPolicy, PolicyError } from "../identity/policy.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { EXIT, parseCli } from "./ops-support.js";

export const identityCockroachCommand: CliCommand = {
  name: "cockroach",
  summary: "print the CockroachDB cluster settings and identity map for JWT login",
  usage: "herald identity cockroach [--policy <file>]",
  help: `Prints SET CLUSTER SETTING statements (server.jwt_authentication.* and
server.identity_map.configuration) so the same OIDC tokens the policy trusts
log in to CockroachDB as each role's SQL user (herald_<domain>_worker, ...).
Mappings by subject or Kubernetes service account become identity map lines;
those by groups or roles cannot, and are listed as comments. Touches no
database: run the output as an admin. See docs/cockroachdb.md.

Options:
  --policy <file>  role policy (default HERALD_IDENTITY_POLICY_FILE)
  -h, --help       show this help`,
  async run(argv, io) {
    const { values } = parseCli(argv, { policy: { type: "string" } });
    const policyFile = values.policy ?? loadConfig().HERALD_IDENTITY_POLICY_FILE;
    if (!policyFile) throw new CliError("--policy <file> is required (or set HERALD_IDENTITY_POLICY_FILE)", EXIT.usage);
    try {
      io.out(cockroachJwtSettings(await loadPolicy(resolve(io.cwd, policyFile))));
      return EXIT.ok;
    } catch (err) {
      if (err instanceof PolicyError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
  },
};
