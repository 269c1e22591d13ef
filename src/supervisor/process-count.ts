import { availableParallelism } from "node:os";

/** Most worker processes one supervisor starts: past the cores, more processes only contend. */
export const MAX_PROCESSES = 64;

/** Thrown for a `--processes` value that is neither a count nor `auto`. */
export class ProcessCountError extends Error {
  override readonly name = "ProcessCountError";
  constructor(readonly value: string) {
    super(`--processes must be a whole number from 1 to ${MAX_PROCESSES}, or auto (got "${value}")`);
  }
}

/**
 * Worker processes for `--processes <n|auto>`: `auto` is one per core the
 * process may use (os.availableParallelism), at most MAX_PROCESSES.
 */
export function parseProcessCount(value: string, cores: () => number = availableParallelism): number {
  if (value === "auto") return Math.min(Math.max(1, cores()), MAX_PROCESSES);
  if (!/^\d{1,3}$/.test(value)) throw new ProcessCountError(value);
  const n = Number(value);
  if (n < 1 || n > MAX_PROCESSES) throw new ProcessCountError(value);
  return n;
}
