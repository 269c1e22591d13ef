import type { CliCommand } from "./command.js";
import { CliError } from "./cli-error.js";
import { identityCockroachCommand } from "./identity-cockroach.js";
import { identityInitCommand } from "./identity-init.js";
import { identityRevokeCommand } from "./identity-revoke.js";
import { identityRotateDbCommand } from "./identity-rotate-db.js";
import { identityServeCommand } from "./identity-serve.js";
import { EXIT } from "./ops-support.js";

const subcommands: CliCommand[] = [identityInitCommand, identityServeCommand, identityRevokeCommand, identityCockroachCommand, identityRotateDbCommand];

/** The subcommand `herald identity <name>` runs, for its help text. */
export const identitySubcommand = (name: string | undefined): CliCommand | undefined => subcommands.find((c) => c.name === name);

export const identityCommand: CliCommand = {
  name: "identity",
  summary: "OIDC identity for NATS and the database (init, serve, revoke, cockroach, rotate-db)",
  usage: "herald identity <init|serve|revoke|cockroach|rotate-db> [options]",
  help: `Subcommands:
${subcommands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join("\n")}

Run \`herald identity <subcommand> --help\` for its options. See docs/identity.md.`,
  async run(argv, io) {
    const [name, ...rest] = argv;
    const sub = identitySubcommand(name);
    if (!sub) throw new CliError(`unknown identity subcommand ${JSON.stringify(name ?? "")}: use init, serve, revoke, cockroach or rotate-db`, EXIT.usage);
    return sub.run(rest, io);
  },
};
