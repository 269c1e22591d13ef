import type { NatsConnection } from "@nats-io/nats-core";
import { checkBad, checkValid } from "./checks.js";
import { buildPlan, type Plan, type PlanOptions } from "./plan.js";
import { sendRaw, type Outcome } from "./send.js";

/**
 * Runs a plan against a worker: valid requests one at a time on their own
 * lane, bad ones `concurrency` at a time, interleaved in plan order (a bad
 * request waits for the valid ones before it to be answered, since it may name
 * their keys; a valid one waits for the bad ones before it to be sent).
 */

export interface RunOptions extends PlanOptions {
  concurrency: number;
  timeoutMs: number;
  /** Called every `progressEvery` requests. */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
}

export interface RunResult {
  plan: Plan;
  /** Requests sent. */
  sent: number;
  valid: number;
  bad: number;
  /** Replies by label (`error:invalid_json`, `committed`, …). */
  tally: Record<string, number>;
  /** Bad requests by tag: header and body abuse of malformed ones, or their kind. */
  kinds: Record<string, number>;
  failures: string[];
  /** Keys that must be stored: the valid requests' and the unknown-account rejections'. */
  storedKeys: Set<string>;
  storedRejections: number;
  replays: number;
  latency: { p50: number; p99: number; max: number };
  durationMs: number;
}

const bump = (record: Record<string, number>, key: string) => (record[key] = (record[key] ?? 0) + 1);

export async function runFuzz(nc: NatsConnection, domain: string, options: RunOptions): Promise<RunResult> {
  const plan = buildPlan(options);
  const { model, entries } = plan;
  const started = performance.now();
  const tally: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  const failures: string[] = [];
  const latencies: number[] = [];
  const storedKeys = new Set(model.ops.map((op) => op.key));
  const stored: Array<Record<string, any> | undefined> = [];
  let storedRejections = 0;
  let replays = 0;
  let done = 0;
  const subject = (tail: string) => `${domain}.cmd.${tail}`;
  const fail = (reason: string) => {
    if (failures.length < 1000) failures.push(reason);
  };
  const record = (o: Outcome) => {
    bump(tally, o.label);
    latencies.push(o.ms);
    done++;
    if (options.onProgress && done % (options.progressEvery ?? 1000) === 0) options.onProgress(done, entries.length);
  };

  // Lane coordination: counters plus waiters woken whenever one moves.
  let validDone = 0;
  let badStarted = 0;
  let wake: Array<() => void> = [];
  const moved = () => {
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  const until = async (ready: () => boolean) => {
    while (!ready()) await new Promise<void>((resolve) => wake.push(resolve));
  };

  const badBefore: number[] = [];
  let bads = 0;
  for (const e of entries) {
    badBefore.push(bads);
    if (e.type === "bad") bads++;
  }

  async function validLane(): Promise<void> {
    for (const [position, e] of entries.entries()) {
      if (e.type !== "valid") continue;
      await until(() => badStarted >= badBefore[position]!);
      const op = model.ops[e.op]!;
      const block = headerBlockFor(op.key, op.traceparent);
      const o = await sendRaw(nc, subject(op.command), block, op.body, options.timeoutMs);
      record(o);
      const problem = checkValid(domain, op, o);
      if (problem) fail(problem);
      stored[op.index] = o.body;
      validDone++;
      moved();
    }
  }

  const badEntries = entries.filter((e) => e.type === "bad");
  let nextBad = 0;
  async function badWorker(): Promise<void> {
    while (nextBad < badEntries.length) {
      const e = badEntries[nextBad++]!;
      await until(() => validDone >= e.gate);
      const item = plan.badRequest(e.index, e.gate);
      badStarted++;
      moved();
      for (const tag of item.tags) bump(kinds, tag);
      const o = await sendRaw(nc, subject(item.tail), item.headers, item.body, options.timeoutMs);
      record(o);
      const problem = checkBad(item, o, stored);
      if (problem) fail(problem);
      if (item.expect.type === "rejected") {
        storedKeys.add(item.expect.key);
        storedRejections++;
      }
      if (item.expect.type === "replay") replays++;
    }
  }

  await Promise.all([validLane(), ...Array.from({ length: options.concurrency }, badWorker)]);
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    plan,
    sent: done,
    valid: model.ops.length,
    bad: badEntries.length,
    tally,
    kinds,
    failures,
    storedKeys,
    storedRejections,
    replays,
    latency: { p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] ?? 0 },
    durationMs: Math.round(performance.now() - started),
  };
}

const encoder = new TextEncoder();

/** Plain, well-formed headers for a valid request. */
function headerBlockFor(key: string, traceparent: string | undefined): Uint8Array {
  return encoder.encode(`NATS/1.0\r\nIdempotency-Key: ${key}\r\n${traceparent ? `traceparent: ${traceparent}\r\n` : ""}\r\n`);
}
