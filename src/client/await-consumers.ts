import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { appliedSubject, type AppliedReply } from "../protocol/applied.js";
import type { EventRef } from "../protocol/replies.js";
import { CommandRequestError } from "./request-error.js";

/** Whom a wait reached: every durable named lands in exactly one list. */
export interface AwaitOutcome {
  /** Durables that applied every event of the command. */
  appliedBy: string[];
  /**
   * Durables that had not applied them when the bound passed (or could not be
   * asked). The command IS committed: do not send it again, wait or read later.
   */
  notYetAppliedBy: string[];
}

/** Default bound of a wait for consumers, in ms. */
export const DEFAULT_AWAIT_TIMEOUT_MS = 5000;
/** How late past its bound a wait may answer, in ms (the reply's trip back). */
export const AWAIT_SLACK_MS = 250;
const DURABLE = /^[A-Za-z0-9_-]{1,64}$/;
const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Checks the durables and bound of a wait; bad input throws before anything is sent. */
export function checkAwait(durables: readonly string[] | undefined, timeoutMs: number | undefined): { durables: string[]; timeoutMs: number } {
  const list = [...(durables ?? [])];
  if (list.length === 0) throw new CommandRequestError("invalid_await", "awaitConsumers must name at least one durable consumer");
  const bad = list.find((d) => typeof d !== "string" || !DURABLE.test(d));
  if (bad !== undefined) throw new CommandRequestError("invalid_await", `"${String(bad).slice(0, 80)}" is not a durable name (1-64 characters of A-Z, a-z, 0-9, _ and -)`);
  const bound = timeoutMs ?? DEFAULT_AWAIT_TIMEOUT_MS;
  if (typeof bound !== "number" || !Number.isFinite(bound) || bound <= 0) {
    throw new CommandRequestError("invalid_await", `awaitTimeoutMs must be a number > 0, got ${String(timeoutMs)}`);
  }
  return { durables: [...new Set(list)], timeoutMs: bound };
}

/**
 * Refuses durables that do not exist on `stream`, or that cannot tell what
 * they applied (no database), before the command is sent. A durable whose
 * instances are all down right now is accepted: it may be restarting.
 */
export async function checkConsumersExist(nc: NatsConnection, domain: string, stream: string, durables: readonly string[]): Promise<void> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  for (const durable of durables) {
    try {
      await jsm.consumers.info(stream, durable);
    } catch (err) {
      if (!/not found/i.test(String((err as Error).message))) throw new CommandRequestError("request_failed", `cannot look up consumer ${durable}: ${(err as Error).message}`, { cause: err });
      throw new CommandRequestError("unknown_consumer", `no durable consumer "${durable}" on stream ${stream}`, { details: { durable, stream } });
    }
    const reply = await ask(nc, domain, durable, [], 1, 1000).catch(() => undefined);
    if (reply?.status === "error" && reply.error.code === "not_tracked") {
      throw new CommandRequestError("unknown_consumer", reply.error.message, { details: { durable, stream } });
    }
  }
}

async function ask(nc: NatsConnection, domain: string, durable: string, events: EventRef[], waitMs: number, timeoutMs: number): Promise<AppliedReply> {
  const body = encoder.encode(JSON.stringify({ domain, events, timeoutMs: waitMs }));
  return (await nc.request(appliedSubject(domain, durable), body, { timeout: timeoutMs })).json<AppliedReply>();
}

/** Asks one durable until it has applied the events or `deadline` (epoch ms) passes; never throws. */
async function awaitOne(nc: NatsConnection, domain: string, durable: string, events: EventRef[], deadline: number): Promise<boolean> {
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining < 1) return false;
    try {
      const reply = await ask(nc, domain, durable, events, remaining, remaining + AWAIT_SLACK_MS);
      if (reply.status === "applied") return true;
      // An instance that stopped answers early: ask again, another (or the restarted one) takes it.
      if (reply.status === "error") return false;
    } catch {
      // No responders (restarting) or no answer: ask again while time remains.
      await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
  }
}

/**
 * Waits until each durable has applied `events` (a committed reply's), at most
 * `timeoutMs`; answers within `timeoutMs + AWAIT_SLACK_MS`. A durable that is
 * restarting is asked again until the bound.
 */
export async function awaitApplied(nc: NatsConnection, domain: string, durables: readonly string[], events: EventRef[], timeoutMs: number): Promise<AwaitOutcome> {
  const deadline = Date.now() + timeoutMs;
  const results = await Promise.all(durables.map((d) => awaitOne(nc, domain, d, events, deadline)));
  return {
    appliedBy: durables.filter((_, i) => results[i]),
    notYetAppliedBy: durables.filter((_, i) => !results[i]),
  };
}
