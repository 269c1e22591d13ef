import type { ChildProcess } from "node:child_process";

/**
 * Everything the bench started or created, undone on normal exit, on error and on
 * SIGINT/SIGTERM: child processes first, then streams and the database.
 */
const children = new Set<ChildProcess>();
const tasks: Array<{ what: string; run: () => Promise<unknown> }> = [];

export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once("exit", () => children.delete(child));
}

/** Registers an undo step; returns a function that runs it now (once) and forgets it. */
export function onCleanup(what: string, run: () => Promise<unknown>): () => Promise<void> {
  const task = { what, run };
  tasks.push(task);
  return async () => {
    const i = tasks.indexOf(task);
    if (i < 0) return;
    tasks.splice(i, 1);
    await run();
  };
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once("exit", () => resolve()));

let cleaning: Promise<void> | undefined;

/** True once cleanup began (a signal came): callers start nothing new. */
export const isStopping = (): boolean => cleaning !== undefined;

/**
 * Stops every child (SIGTERM, then SIGKILL after `graceMs`) and runs the undo steps,
 * newest first. Every caller waits for the same single pass.
 */
export function cleanupAll(graceMs = 5000): Promise<void> {
  cleaning ??= runCleanup(graceMs);
  return cleaning;
}

async function runCleanup(graceMs: number): Promise<void> {
  await Promise.all(
    [...children].map(async (child) => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited(child);
      clearTimeout(timer);
    }),
  );
  while (tasks.length > 0) {
    const task = tasks.pop()!;
    await task.run().catch((err) => process.stderr.write(`cleanup: ${task.what} failed: ${(err as Error).message}\n`));
  }
}

/** On Ctrl-C or SIGTERM: clean up, then exit 130. A second signal exits at once. */
export function installSignalCleanup(): void {
  let received = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (received) process.exit(130);
      received = true;
      process.stderr.write(`\n${signal}: stopping children and dropping what the bench created...\n`);
      void cleanupAll(3000).finally(() => process.exit(130));
    });
  }
}
