import type { Configuration } from "./run-layout.js";

/** What the experiment runs. */
export interface LayoutOptions {
  /** Commands per run of a configuration and layout. Default 20,000. */
  commands: number;
  /** Concurrent connections, each running its own batches. Default 4. */
  connections: number;
  /** Rounds: each runs both layouts, in alternating order (A B, B A, …). Default 2. */
  rounds: number;
  /** Workload shapes. Default: 1, 4 and 32 commands per transaction with 1 event each, and 32 with 2 events. */
  configurations: Configuration[];
  /** Commands read one by one when measuring trace. Default 5,000. */
  traces: number;
}

export const DEFAULT_LAYOUT_OPTIONS: Readonly<LayoutOptions> = Object.freeze({
  commands: 20_000,
  connections: 4,
  rounds: 2,
  configurations: [
    { batchSize: 1, eventsPerCommand: 1 },
    { batchSize: 4, eventsPerCommand: 1 },
    { batchSize: 32, eventsPerCommand: 1 },
    { batchSize: 32, eventsPerCommand: 2 },
  ],
  traces: 5_000,
});

/** Bad command-line input, naming the argument. */
export class LayoutOptionError extends Error {
  override readonly name = "LayoutOptionError";
  constructor(readonly argument: string, reason: string) {
    super(`${argument}: ${reason}`);
  }
}

const positive = (argument: string, value: string | undefined): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new LayoutOptionError(argument, `expected a positive integer, got ${value ?? "nothing"}`);
  return n;
};

/** `--commands N --connections N --rounds N --traces N`; anything else is refused. */
export function parseLayoutArgs(argv: readonly string[]): LayoutOptions {
  const options: LayoutOptions = { ...DEFAULT_LAYOUT_OPTIONS, configurations: [...DEFAULT_LAYOUT_OPTIONS.configurations] };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]!;
    const value = argv[i + 1];
    if (name === "--commands") options.commands = positive(name, value);
    else if (name === "--connections") options.connections = positive(name, value);
    else if (name === "--rounds") options.rounds = positive(name, value);
    else if (name === "--traces") options.traces = positive(name, value);
    else throw new LayoutOptionError(name, "unknown argument (known: --commands, --connections, --rounds, --traces)");
  }
  return options;
}
