import type { ChildProcess } from "node:child_process";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { ranLongEnough, restartDelayMs, type BackoffPolicy } from "./backoff.js";

/** The message a worker process sends over its IPC channel once it serves. */
export const READY_MESSAGE = { type: "herald-worker-ready" } as const;

export const isReadyMessage = (message: unknown): boolean => (message as { type?: unknown } | null)?.type === READY_MESSAGE.type;

export interface SupervisorOptions extends Partial<BackoffPolicy> {
  /** Worker processes to keep running. */
  processes: number;
  /** Starts worker process `index` (0-based) with an IPC channel; it sends READY_MESSAGE when it serves. */
  start(index: number): ChildProcess;
  /** How long every process has to get ready at start, in ms. Default 60000. */
  readyTimeoutMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

/** Worker processes of one domain, restarted when they crash, stopped together. */
export interface Supervisor {
  /** Process ids of the workers now running. */
  pids(): number[];
  /** Restarts after crashes so far. */
  readonly restarts: number;
  /** Resolves when every process serves; rejects (after stopping the others) when one exits before it ever did. */
  readonly ready: Promise<void>;
  /** SIGTERM to every process, SIGKILL to those still running after `timeoutMs`; true when all exited with 0. */
  stop(timeoutMs: number): Promise<boolean>;
}

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  /** Crashes in a row, for the backoff. */
  crashes: number;
  everReady: boolean;
  readyAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  exit: Promise<Exit>;
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

const running = (child: ChildProcess | undefined): child is ChildProcess => child !== undefined && child.exitCode === null && child.signalCode === null;

/**
 * Starts `processes` workers and keeps them running: a process that exits
 * while the supervisor is not stopping is started again after a backoff that
 * doubles with each crash in a row (see restartDelayMs). A process that exits
 * before any start of its slot got ready fails the whole start instead:
 * bad configuration would only crash again.
 */
export function startSupervisor(options: SupervisorOptions): Supervisor {
  const logger = options.logger ?? silentLogger;
  const slots: Slot[] = [];
  let stopping = false;
  let restarts = 0;
  let failStart: (err: Error) => void = () => undefined;
  const readyWaits: Array<Promise<void>> = [];

  function launch(slot: Slot, onReady?: () => void): void {
    const child = options.start(slot.index);
    slot.child = child;
    slot.readyAt = undefined;
    slot.exit = exitOf(child);
    child.on("message", (message) => {
      if (!isReadyMessage(message)) return;
      slot.readyAt = Date.now();
      slot.everReady = true;
      onReady?.();
    });
    child.on("error", (err) => logger.warn({ worker: slot.index, err: err.message }, "worker process error"));
    void slot.exit.then(({ code }) => exited(slot, child, code));
  }

  function exited(slot: Slot, child: ChildProcess, code: number | null): void {
    if (slot.child !== child || stopping) return;
    slot.child = undefined;
    if (!slot.everReady) {
      failStart(new Error(`worker process ${slot.index} exited (${code ?? child.signalCode}) before it was ready`));
      return;
    }
    const policy: Partial<BackoffPolicy> = { backoffMs: options.backoffMs, maxBackoffMs: options.maxBackoffMs, stableAfterMs: options.stableAfterMs };
    slot.crashes = ranLongEnough(slot.readyAt, Date.now(), policy) ? 1 : slot.crashes + 1;
    const delay = restartDelayMs(slot.crashes, policy);
    logger.warn({ worker: slot.index, pid: child.pid, code, signal: child.signalCode, restartInMs: delay }, "worker process exited; restarting it");
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (stopping) return;
      restarts++;
      launch(slot, () => logger.info({ worker: slot.index, pid: slot.child?.pid }, "worker process restarted"));
    }, delay);
  }

  const failed = new Promise<never>((_, reject) => (failStart = reject));
  failed.catch(() => undefined);
  for (let index = 0; index < options.processes; index++) {
    const slot: Slot = { index, child: undefined, crashes: 0, everReady: false, readyAt: undefined, timer: undefined, exit: Promise.resolve({ code: 0, signal: null }) };
    slots.push(slot);
    readyWaits.push(new Promise<void>((resolve) => launch(slot, resolve)));
  }

  async function stop(timeoutMs: number): Promise<boolean> {
    stopping = true;
    for (const slot of slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = undefined;
      if (running(slot.child)) slot.child.kill("SIGTERM");
    }
    const codes = await Promise.all(
      slots.map(async (slot) => {
        const child = slot.child;
        if (!child) return 0;
        const kill = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        try {
          const { code, signal } = await slot.exit;
          // A process still starting when the stop came has not set up its signal handlers yet: it had nothing to finish.
          return signal === "SIGTERM" && slot.readyAt === undefined ? 0 : code;
        } finally {
          clearTimeout(kill);
        }
      }),
    );
    return codes.every((c) => c === 0);
  }

  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  let readyTimer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    readyTimer = setTimeout(() => reject(new Error(`the worker processes were not all ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
  });
  const ready = Promise.race([Promise.all(readyWaits).then(() => undefined), failed, timedOut]).then(
    () => clearTimeout(readyTimer),
    async (err: Error) => {
      clearTimeout(readyTimer);
      await stop(5000);
      throw err;
    },
  );

  return {
    pids: () => slots.flatMap((s) => (running(s.child) && s.child.pid !== undefined ? [s.child.pid] : [])),
    get restarts() {
      return restarts;
    },
    ready,
    stop,
  };
}
