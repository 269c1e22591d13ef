import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../cli/cli-error.js";
import { childEnvironment } from "../config.js";
import { packageRoot } from "../db/migrator.js";

/** Worker processes the demo started; `stop` ends them whatever happened. */
export interface DemoWorkers {
  readonly pids: number[];
  /** SIGTERM to each, then waits for them (SIGKILL after `timeoutMs`). Resolves with their exit codes. */
  stop(timeoutMs?: number): Promise<Array<number | null>>;
}

/** The built CLI the workers run: `node <it> start`, as a user would. */
export function builtCli(): string {
  const cli = join(packageRoot(), "dist", "src", "cli", "main.js");
  if (!existsSync(cli)) throw new CliError(`${cli} does not exist; run \`npm run build\` first`);
  return cli;
}

const tail = (text: string) => text.trim().split("\n").filter(Boolean).slice(-1)[0] ?? "";

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** Waits for the worker's ready line; rejects with its last stderr line if it exits first. */
function ready(child: ChildProcess, stderr: () => string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => finish(new CliError(`a worker did not get ready within ${timeoutMs} ms: ${tail(stderr())}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (/herald worker ready/.test(out)) finish();
    };
    const onExit = (code: number | null) => finish(new CliError(`a worker exited (${code}) before it was ready: ${tail(stderr()) || "no output"}`));
    const finish = (err?: Error) => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolve();
    };
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
  });
}

/**
 * Starts `count` workers of `domain` in one queue group and waits until each
 * is ready. Their logs are kept quiet (warnings only) and shown only when one fails.
 */
export async function startDemoWorkers(domain: string, count: number, options: { readyTimeoutMs?: number } = {}): Promise<DemoWorkers> {
  const cli = builtCli();
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const stop = async (timeoutMs = 20_000) => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    return Promise.all(
      children.map(async (child) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        try {
          return await exited(child);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  };
  try {
    for (let i = 0; i < count; i++) {
      const child = spawn(process.execPath, [cli, "start", "--domain", domain], {
        env: childEnvironment({ LOG_LEVEL: "warn", HERALD_DOMAIN: undefined }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      const index = logs.push("") - 1;
      child.stderr!.on("data", (chunk: Buffer) => (logs[index] = (logs[index] + chunk.toString()).slice(-4000)));
      children.push(child);
    }
    await Promise.all(children.map((child, i) => ready(child, () => logs[i]!, options.readyTimeoutMs ?? 30_000)));
  } catch (err) {
    await stop(5000);
    throw err;
  }
  return { pids: children.map((c) => c.pid ?? 0), stop };
}
