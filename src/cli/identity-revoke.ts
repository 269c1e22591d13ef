import { resolve } from "node:path";
import { loadConfig } from "../config.js";
import { revokeIdentity } from "../identity/revocation.js";
import { BadPublicKeyError } from "../identity/user-jwt.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { EXIT, parseCli, withDatabase } from "./ops-support.js";

export const identityRevokeCommand: CliCommand = {
  name: "revoke",
  summary: "revoke a subject's or an NKey's NATS credentials and close its connections",
  usage: "herald identity revoke (--subject <sub> | --key <nkey>) [--dir <dir>]",
  help: `Adds the user NKeys (every live key issued to --subject, or --key) to the
account's revocations, pushes the account JWT to the NATS servers at NATS_URL
(as the system account's user), which close those users' connections, and
records the revocation: the issuer then refuses the key for good, and the
subject's tokens issued before now. A new token of the subject is accepted
again: to shut it out for good, change the policy or the identity provider.

Options:
  --subject <sub>  the OIDC subject (the token's sub)
  --key <nkey>     one user public NKey (U...)
  --dir <dir>      what herald identity init wrote (default HERALD_IDENTITY_DIR)
  -h, --help       show this help`,
  async run(argv, io) {
    const { values } = parseCli(argv, { subject: { type: "string" }, key: { type: "string" }, dir: { type: "string" } });
    if (Boolean(values.subject) === Boolean(values.key)) throw new CliError("give exactly one of --subject <sub> or --key <nkey>", EXIT.usage);
    const config = loadConfig();
    const dir = resolve(io.cwd, values.dir ?? config.HERALD_IDENTITY_DIR);
    try {
      const keys = await withDatabase(config, "identity-revoke", (database) =>
        revokeIdentity({ dir, db: database.db, servers: config.NATS_URL, subject: values.subject, key: values.key, tls: { caFile: config.NATS_TLS_CA_FILE } }),
      );
      io.out(`revoked ${keys.length} key(s)${values.subject ? ` of subject ${values.subject}` : ""}; the servers closed their connections`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof BadPublicKeyError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
  },
};
