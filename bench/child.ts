import { spawn, type ChildProcess } from "node:child_process";
import { trackChild } from "./cleanup.js";
import { ROOT } from "./settings.js";

/** A child process whose stdout is read line by line and stderr kept (tail only). */
export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the first stdout line (past or future) that `match` accepts; rejects on exit or timeout. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T>;
  stderrTail(): string;
  /** Writes to stdin and closes it (the children read one line at most). */
  send(line: string): void;
  /** Resolves with the exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs: number): Promise<number | null>;
}

/** Parses a JSON line of the given `type`, or nothing. */
export const jsonLine =
  <T>(type: string) =>
  (line: string): T | undefined => {
    if (!line.startsWith("{")) return undefined;
    try {
      const value = JSON.parse(line) as { type?: string };
      return value.type === type ? (value as T) : undefined;
    } catch {
      return undefined;
    }
  };

/** Spawns `node <args>`; stdin stays open when `stdin` is "open" (see `send`). */
export function spawnChild(args: string[], env: NodeJS.ProcessEnv, stdin?: string | "open"): Child {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
  trackChild(child);
  const lines: string[] = [];
  let partial = "";
  let err = "";
  const listeners = new Set<() => void>();
  child.stdout!.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    for (const l of [...listeners]) l();
  });
  child.stderr!.on("data", (chunk: Buffer) => (err = (err + chunk.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      for (const l of [...listeners]) l();
      resolve(code);
    }),
  );
  child.stdin!.on("error", () => undefined);
  const send = (line: string) => {
    if (child.stdin!.writable) child.stdin!.end(line);
  };
  if (stdin !== "open") send(stdin ?? "");

  return {
    process: child,
    pid: child.pid ?? -1,
    exited,
    stderrTail: () => err,
    send,
    waitForLine(match, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < lines.length; seen++) {
            const value = match(lines[seen]!);
            if (value !== undefined) return done(undefined, value);
          }
          if (child.exitCode !== null || child.signalCode !== null) done(new Error(`${what}: process exited (${child.exitCode ?? child.signalCode}); stderr: ${err.slice(-1500)}`));
        };
        const timer = setTimeout(() => done(new Error(`${what}: nothing within ${timeoutMs} ms; stderr: ${err.slice(-1500)}`)), timeoutMs);
        const done = (e?: Error, value?: any) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (e) reject(e);
          else resolve(value);
        };
        listeners.add(check);
        check();
      });
    },
    async stop(timeoutMs) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
