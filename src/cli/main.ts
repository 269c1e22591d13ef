#!/usr/bin/env node
import { ConfigError } from "../config.js";
import { CliError, describeError } from "./cli-error.js";
import type { CliCommand, CliIo } from "./command.js";
import { migrateCommand } from "./migrate.js";
import { startCommand } from "./start.js";
import { sendCommand } from "./send.js";
import { demoCommand } from "./demo.js";
import { auditCommand } from "./audit.js";
import { grantsCommand } from "./grants.js";
import { permissionsCommand } from "./permissions.js";
import { eventsCommand } from "./events.js";
import { traceCommand } from "./trace.js";
import { replayCommand } from "./replay.js";
import { pruneCommand } from "./prune.js";
import { outboxCommand } from "./outbox.js";
import { asyncapiCommand } from "./asyncapi.js";
import { sqlCommand } from "./sql.js";
import { cdcCommand, cdcSubcommand } from "./cdc.js";
import { consoleCommand } from "./console.js";
import { identityCommand, identitySubcommand } from "./identity.js";
import { redactText } from "../security/redact.js";

// One command a line, so additions merge without conflicts.
const commands: CliCommand[] = [
  migrateCommand,
  startCommand,
  sendCommand,
  demoCommand,
  permissionsCommand,
  grantsCommand,
  auditCommand,
  eventsCommand,
  traceCommand,
  replayCommand,
  pruneCommand,
  outboxCommand,
  asyncapiCommand,
  sqlCommand,
  cdcCommand,
  consoleCommand,
  identityCommand,
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "herald: message-first commands for CockroachDB and NATS",
    "",
    "Usage: herald <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `herald <command> --help` for a command's options.",
  ].join("\n");
}

function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      process.on(sig, () => {
        // A second signal means "now".
        if (received) process.exit(130);
        received = true;
        resolve(sig);
      });
    }
    // A worker process of `herald start --processes` stops when its supervisor is gone.
    if (process.send) process.once("disconnect", () => resolve("disconnect"));
  });
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`herald: unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const helped = (command === cdcCommand ? cdcSubcommand(rest[0]) : undefined) ?? (command === identityCommand ? identitySubcommand(rest[0]) : undefined) ?? command;
    console.log(`Usage: ${helped.usage}\n\n${helped.help}`);
    return 0;
  }
  const io: CliIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    cwd: process.cwd(),
    stopSignal: stopSignal(),
  };
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`herald ${name}: ${redactText(err.message)}`);
      return 1;
    }
    const code = err instanceof CliError ? err.exitCode : 1;
    // Error texts may quote a URL with its password (a driver's, a config value).
    io.err(`herald ${name}: ${redactText(describeError(err))}`);
    return code;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Long-lived handles (signal listeners) must not keep a finished command alive.
    setImmediate(() => process.exit(code));
  },
  (err) => {
    process.stderr.write(`herald: ${redactText(describeError(err))}\n`);
    process.exit(1);
  },
);
