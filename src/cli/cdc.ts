import { cdcSetupCommand } from "./cdc-setup.js";
import { cdcStartCommand } from "./cdc-start.js";
import { cdcStatusCommand } from "./cdc-status.js";
import type { CliCommand } from "./command.js";
import { CliError } from "./cli-error.js";
import { EXIT } from "./ops-support.js";

const subcommands: CliCommand[] = [cdcStartCommand, cdcStatusCommand, cdcSetupCommand];

/** The subcommand `herald cdc <name>` runs, for its help text. */
export const cdcSubcommand = (name: string | undefined): CliCommand | undefined => subcommands.find((c) => c.name === name);

export const cdcCommand: CliCommand = {
  name: "cdc",
  summary: "change data capture: stream committed row changes into NATS (start, status, setup)",
  usage: "herald cdc <start|status|setup> [options]",
  help: `Subcommands:
${subcommands.map((c) => `  ${c.name.padEnd(7)} ${c.summary}`).join("\n")}

Run \`herald cdc <subcommand> --help\` for its options. See docs/cdc.md.`,
  async run(argv, io) {
    const [name, ...rest] = argv;
    const sub = cdcSubcommand(name);
    if (!sub) throw new CliError(`unknown cdc subcommand ${JSON.stringify(name ?? "")}: use start, status or setup`, EXIT.usage);
    return sub.run(rest, io);
  },
};
