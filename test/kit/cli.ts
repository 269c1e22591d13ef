import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { childEnvironment } from "../../src/config.js";

/** The built CLI (`npm test` builds first), run as users run it. */
export const CLI = fileURLToPath(new URL("../../dist/src/cli/main.js", import.meta.url));
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `herald <args>` to completion. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number; command?: string[] } = {},
): Promise<CliResult> {
  const [cmd, ...pre] = options.command ?? [process.execPath, CLI];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...pre, ...args], { cwd: ROOT, env: childEnvironment(options.env), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`herald ${args.join(" ")} did not finish: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** A long-running CLI process (a worker) with its output collected. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** The exit code, waiting at most `timeoutMs`; then the process is killed and this rejects. */
  stopped(timeoutMs: number): Promise<number | null>;
}

export function spawnCli(args: string[], options: { env?: Record<string, string | undefined>; command?: string[] } = {}): CliProcess {
  const [cmd, ...pre] = options.command ?? [process.execPath, CLI];
  const child = spawn(cmd!, [...pre, ...args], { cwd: ROOT, env: childEnvironment(options.env), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  child.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
    for (const l of listeners) l();
  });
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => {
    for (const l of listeners) l();
    resolve(code);
  }));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stopped(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`process did not exit within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`));
        }, timeoutMs);
      });
      return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    },
    waitForLine(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
        const check = () => {
          const line = out.split("\n").find((l) => pattern.test(l));
          if (line !== undefined) done(undefined, line);
          else if (child.exitCode !== null) done(new Error(`process exited (${child.exitCode}) before ${pattern}; stderr: ${err.slice(-2000)}`));
        };
        const done = (e?: Error, line?: string) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (e) reject(e);
          else resolve(line!);
        };
        listeners.add(check);
        check();
      });
    },
  };
}
