#!/usr/bin/env node
import { ConfigError } from "../config.js";
import { CliError, describeError } from "./cli-error.js";
import type { CliCommand, CliIo } from "./command.js";
import { migrateCommand } from "./migrate.js";
import { startCommand } from "./start.js";

const commands: CliCommand[] = [migrateCommand, startCommand];

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
    console.log(`Usage: ${command.usage}\n\n${command.help}`);
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
      io.err(`herald ${name}: ${err.message}`);
      return 1;
    }
    const code = err instanceof CliError ? err.exitCode : 1;
    io.err(`herald ${name}: ${describeError(err)}`);
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
    process.stderr.write(`herald: ${describeError(err)}\n`);
    process.exit(1);
  },
);
