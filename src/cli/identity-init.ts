import { resolve } from "node:path";
import { loadConfig } from "../config.js";
import { initIdentity } from "../identity/nats-account.js";
import { UnknownRoleError } from "../identity/roles.js";
import { InvalidNameError } from "../security/naming.js";
import { CliError } from "./cli-error.js";
import type { CliCommand } from "./command.js";
import { EXIT, parseCli } from "./ops-support.js";

/** `--grant bank:worker`, `--grant bank:consumer:ledger`. */
function parseGrant(value: string): { domain: string; role: string } {
  const at = value.indexOf(":");
  if (at <= 0) throw new CliError(`--grant ${JSON.stringify(value)} must be <domain>:<role>, e.g. bank:worker or bank:consumer:ledger`, EXIT.usage);
  return { domain: value.slice(0, at), role: value.slice(at + 1) };
}

export const identityInitCommand: CliCommand = {
  name: "init",
  summary: "create the NATS operator, account and one scoped signing key per role",
  usage: "herald identity init --grant <domain>:<role>... [--dir <dir>] [--rotate]",
  help: `Creates, in --dir (default HERALD_IDENTITY_DIR, ./herald-identity):
  keys/*.nk            private seeds (mode 0600): operator, accounts, one per role
  system-user.creds    the system account's user, to push account updates (0600)
  account.jwt          the account, with one scoped signing key per role whose
                       permission template is that role's herald permissions entry
  nats-server.conf     operator JWT, system account and a resolver with the
                       accounts preloaded: include it in the server's config
  identity.json        public keys, streams and revocations
Keys are never printed. Running it again changes nothing, except that roles
not set up yet are added; --rotate replaces every signing key (users signed by
the old ones stop working once the servers have the new account JWT).

Options:
  --grant <domain>:<role>  role to set up: worker, client, cdc, operator or
                           consumer:<durable>; repeatable (required)
  --stream <domain>=<name> events stream of a domain when not <DOMAIN>_EVENTS
  --dir <dir>              where to write (default HERALD_IDENTITY_DIR)
  --rotate                 replace every signing key
  -h, --help               show this help`,
  async run(argv, io) {
    const { values } = parseCli(argv, { grant: { type: "string", multiple: true }, stream: { type: "string", multiple: true }, dir: { type: "string" }, rotate: { type: "boolean" } });
    const grants = (values.grant ?? []).map(parseGrant);
    if (grants.length === 0) throw new CliError("name at least one --grant <domain>:<role>", EXIT.usage);
    const streams: Record<string, { stream: string }> = {};
    for (const s of values.stream ?? []) {
      const [domain, stream] = s.split("=");
      if (!domain || !stream) throw new CliError(`--stream ${JSON.stringify(s)} must be <domain>=<stream>`, EXIT.usage);
      streams[domain] = { stream };
    }
    const dir = resolve(io.cwd, values.dir ?? loadConfig().HERALD_IDENTITY_DIR);
    try {
      const result = await initIdentity({ dir, grants, streams, rotate: values.rotate ?? false });
      const roles = Object.keys(result.manifest.signingKeys).sort().join(", ");
      io.out(`${result.outcome}: ${dir} (account ${result.manifest.account}; roles ${roles})`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof UnknownRoleError || err instanceof InvalidNameError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
  },
};
