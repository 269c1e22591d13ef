/** Where a CLI command writes; tests capture these. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  cwd: string;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT). */
  stopSignal: Promise<string>;
}

/** One `herald <name>` subcommand. */
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  help: string;
  /** Returns the exit code. */
  run(argv: string[], io: CliIo): Promise<number>;
}
