import type { NatsConnection } from "@nats-io/nats-core";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import type { Worker } from "./worker.js";

export interface GracefulStopOptions {
  worker: Worker;
  /** Drained after the worker stopped (its subscriptions and pending publishes flushed), then closed. */
  nc: NatsConnection;
  /** The database pool, closed last. */
  database: { destroy(): Promise<void> };
  /** The whole stop's budget, in ms (`HERALD_SHUTDOWN_TIMEOUT_MS`). */
  timeoutMs: number;
  /** Flushed after the pool closed, within what is left of the budget. Default: none. */
  telemetry?: { shutdown(): Promise<void> };
  /** Default: silent. */
  logger?: Logger;
}

export interface GracefulStopResult {
  /** Steps that did not finish within the budget and were abandoned, in order. */
  abandoned: string[];
  /** Time the stop took, in ms. */
  ms: number;
}

/** `p` or "late" when `ms` passes first; a rejection counts as finished. */
const within = (p: Promise<unknown>, ms: number): Promise<"done" | "late"> =>
  Promise.race([
    p.then(
      () => "done" as const,
      () => "done" as const,
    ),
    new Promise<"late">((resolve) => setTimeout(() => resolve("late"), Math.max(0, ms)).unref()),
  ]);

/**
 * Stops a worker process's parts in order, all within one budget: the worker
 * (no new requests, those in flight answered, their events published, the
 * outbox flushed), then NATS (drained, or closed when the budget is spent),
 * then the pool, then telemetry. Each step gets what the earlier ones left;
 * a step still running when the budget ends is abandoned, so the whole stop
 * never takes longer than `timeoutMs` plus a timer's lateness. Nothing
 * abandoned is lost: events of committed commands stay in the outbox for the
 * next relay, and a command without an answer is retried by its client with
 * the same key.
 */
export async function stopGracefully(options: GracefulStopOptions): Promise<GracefulStopResult> {
  const logger = options.logger ?? silentLogger;
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const left = () => deadline - Date.now();
  const abandoned: string[] = [];
  const step = async (name: string, run: () => Promise<unknown>): Promise<void> => {
    if ((await within(run(), left())) === "late") {
      abandoned.push(name);
      logger.warn({ step: name, timeoutMs: options.timeoutMs }, "graceful stop: step abandoned at the shutdown timeout");
    }
  };
  await step("worker", () => options.worker.stop());
  await step("nats", () => options.nc.drain());
  // A drain cut short leaves the connection open: close it so the process can exit.
  if (!options.nc.isClosed()) void options.nc.close().catch(() => undefined);
  await step("database", () => options.database.destroy());
  if (options.telemetry) {
    const telemetry = options.telemetry;
    await step("telemetry", () => telemetry.shutdown());
  }
  return { abandoned, ms: Date.now() - started };
}
