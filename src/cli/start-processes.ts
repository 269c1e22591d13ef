import { fork } from "node:child_process";
import { childEnvironment, type HeraldConfig } from "../config.js";
import { startSupervisor } from "../supervisor/supervisor.js";
import type { Logger } from "../telemetry/logger.js";
import { CliError } from "./cli-error.js";
import type { CliIo } from "./command.js";

/** What each worker process is started with: the same `herald start`, one process each. */
export interface WorkerArguments {
  app: string | undefined;
  domain: string;
}

/**
 * Each process's share of HERALD_DB_POOL_MAX (at least one connection): the
 * setting stays the total the database sees, and so does the number of
 * transactions side by side. A full pool per process multiplied both, which
 * split the queue into smaller batches that conflicted more.
 */
export const poolShare = (total: number, processes: number): number => Math.max(1, Math.floor(total / processes));

/**
 * `herald start --processes n`: n worker processes of one domain, each with
 * its own NATS connection and pool (its share of HERALD_DB_POOL_MAX), in the same queue group. Each runs in its
 * own process group, so a Ctrl-C reaches only this supervisor, which stops
 * them all together; a process whose supervisor dies stops by itself (its IPC
 * channel closes). A crashed process is restarted with a backoff.
 */
export async function runWorkerProcesses(count: number, worker: WorkerArguments, config: HeraldConfig, io: CliIo, logger: Logger): Promise<number> {
  const script = process.argv[1];
  if (!script) throw new CliError("cannot tell which script to start the worker processes with");
  const args = ["start", "--domain", worker.domain, ...(worker.app === undefined ? [] : ["--app", worker.app])];
  const supervisor = startSupervisor({
    processes: count,
    logger: logger.child({ supervisor: worker.domain }),
    start: () =>
      fork(script, args, {
        cwd: io.cwd,
        env: childEnvironment({ HERALD_DB_POOL_MAX: String(poolShare(config.HERALD_DB_POOL_MAX, count)) }),
        detached: true,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      }),
  });
  const early = await Promise.race([supervisor.ready.then(() => undefined), io.stopSignal]);
  if (early !== undefined) {
    // Asked to stop before every process was ready.
    await supervisor.stop(config.HERALD_SHUTDOWN_TIMEOUT_MS);
    io.err(`herald workers stopped (${early})`);
    return 0;
  }
  io.out(`herald worker ready: domain=${worker.domain} processes=${count} pids=${supervisor.pids().join(",")}`);
  const signal = await io.stopSignal;
  logger.info({ signal, restarts: supervisor.restarts }, "stopping the worker processes");
  // Each process has HERALD_SHUTDOWN_TIMEOUT_MS to stop gracefully, and a little more to close its connections.
  const clean = await supervisor.stop(config.HERALD_SHUTDOWN_TIMEOUT_MS + 10_000);
  io.err(`herald workers stopped (${signal})`);
  return clean ? 0 : 1;
}
