/**
 * Closed-loop load: C clients, each sending one bank `transfer` (or `deposit`) request at a time
 * (a fresh Idempotency-Key per logical command), for warmup + D seconds. Prints
 * newline-delimited JSON on stdout: {"type":"measuring"} when the measured window
 * opens, {"type":"measured"} when it closes, then {"type":"result",...}.
 *
 *   node --import tsx bench/load-generator.ts --subject bank.cmd.transfer --clients 16 --duration 5
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { headers, NoRespondersError, TimeoutError, type NatsConnection } from "@nats-io/nats-core";
import { loadConfig } from "../src/config.js";
import { LatencyRecorder, type LatencySummary } from "./latency.js";
import { MAX_AMOUNT, REQUEST_TIMEOUT_MS, isLoopback } from "./settings.js";

export interface Counts {
  /** Fresh commits (`duplicate: false`). */
  committed: number;
  /** Replays of an earlier attempt's commit (after a timeout). */
  duplicates: number;
  rejected: number;
  /** `overloaded` error replies (also in `errors`). */
  overloaded: number;
  /** Error replies and failed requests by code (`timeout`, `no_responders` for the transport's). */
  errors: Record<string, number>;
  /** Rejections by code. */
  rejections: Record<string, number>;
}

export interface LoadResult {
  type: "result";
  clients: number;
  connections: number;
  durationS: number;
  /** Replies that arrived inside the measured window. */
  window: Counts & { committedPerSec: number; repliesPerSec: number };
  /** Everything sent, warmup and drain included (for the database cross-checks). */
  total: Counts & { requests: number; unknownOutcome: number };
  /** Per-reply latency of committed replies in the window. */
  latencyMs: LatencySummary;
  /** First send to committed reply, retries after `overloaded` included. */
  endToEndMs: LatencySummary;
  /** How fast `overloaded` replies came back. */
  overloadedLatencyMs: LatencySummary;
  /** CPU the generator itself used in the window (it shares the machine). */
  generatorCpuS: number;
}

type Outcome = { kind: "committed" | "duplicate" | "rejected" | "error"; code?: string; retryAfterMs?: number };

const RETRYABLE = new Set(["overloaded", "unavailable", "unknown_outcome", "internal", "timeout", "no_responders"]);
/** A lost reply leaves the outcome unknown; an error reply says nothing was stored. */
const UNKNOWN = new Set(["timeout", "request_failed"]);

const emptyCounts = (): Counts => ({ committed: 0, duplicates: 0, rejected: 0, overloaded: 0, errors: {}, rejections: {} });
const bump = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function count(counts: Counts, outcome: Outcome): void {
  if (outcome.kind === "committed") counts.committed++;
  else if (outcome.kind === "duplicate") counts.duplicates++;
  else if (outcome.kind === "rejected") {
    counts.rejected++;
    bump(counts.rejections, outcome.code ?? "unknown");
  } else {
    if (outcome.code === "overloaded") counts.overloaded++;
    bump(counts.errors, outcome.code ?? "unknown");
  }
}

function classifyFailure(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof TimeoutError) return "timeout";
    if (e instanceof NoRespondersError) return "no_responders";
  }
  return "request_failed";
}

const decoder = new TextDecoder();
function parseReply(data: Uint8Array): Outcome {
  try {
    const reply = JSON.parse(decoder.decode(data)) as { status?: string; duplicate?: boolean; error?: { code?: string; details?: { retryAfterMs?: unknown } } };
    if (reply.status === "committed") return { kind: reply.duplicate ? "duplicate" : "committed" };
    if (reply.status === "rejected") return { kind: "rejected", code: reply.error?.code };
    const hint = reply.error?.details?.retryAfterMs;
    return { kind: "error", code: reply.error?.code ?? "unknown", ...(typeof hint === "number" && hint > 0 ? { retryAfterMs: hint } : {}) };
  } catch {
    return { kind: "error", code: "bad_reply" };
  }
}

/**
 * Full-jitter exponential backoff for retries with the same key, as a careful
 * client does; at least the server's `retryAfterMs` hint when it gave one (as
 * Herald's client does), spread by up to half again.
 */
const backoffMs = (attempt: number, hintMs = 0) =>
  Math.max(Math.random() * Math.min(500, 5 * 2 ** (attempt - 1)), hintMs * (1 + Math.random() / 2));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      subject: { type: "string" },
      // transfer (default) or deposit: the bank command the subject serves.
      command: { type: "string", default: "transfer" },
      clients: { type: "string", default: "1" },
      connections: { type: "string" },
      duration: { type: "string", default: "10" },
      warmup: { type: "string", default: "1" },
      accounts: { type: "string", default: "10000" },
      tag: { type: "string", default: `g${Date.now().toString(36)}` },
      // Connect first, then wait for a line on stdin: the bench starts the target meanwhile.
      "start-on-stdin": { type: "boolean", default: false },
    },
    strict: true,
  });
  if (!values.subject) throw new Error("--subject is required");
  if (values.command !== "transfer" && values.command !== "deposit") throw new Error("--command must be transfer or deposit");
  const subject = values.subject;
  const clients = Number(values.clients);
  const connections = Number(values.connections ?? Math.min(4, Math.ceil(clients / 64)));
  const durationS = Number(values.duration);
  const warmupS = Number(values.warmup);
  const accounts = Number(values.accounts);
  const servers = loadConfig().NATS_URL;
  if (!isLoopback(servers)) throw new Error("the load generator only sends to servers on this machine");


  const conns: NatsConnection[] = await Promise.all(
    Array.from({ length: connections }, (_, i) => connect({ servers: servers.split(","), name: `herald-bench-load-${i}`, maxReconnectAttempts: 3 })),
  );
  if (values["start-on-stdin"]) {
    process.stdout.write(`${JSON.stringify({ type: "connected" })}\n`);
    const lines = createInterface({ input: process.stdin });
    let go = false;
    for await (const _ of lines) {
      go = true;
      break;
    }
    lines.close();
    // Stdin closed without "go": the bench is gone, so send nothing.
    if (!go) {
      await Promise.allSettled(conns.map((nc) => nc.close()));
      return;
    }
  }
  // Never hang: the whole run is bounded even if the target stops answering.
  setTimeout(() => {
    process.stderr.write("load generator: hard deadline passed\n");
    process.exit(2);
  }, (warmupS + durationS) * 1000 + REQUEST_TIMEOUT_MS + 10_000).unref();
  const encoder = new TextEncoder();
  const accountId = (n: number) => `acct-${String(n).padStart(5, "0")}`;
  const transfer = (): Uint8Array => {
    const from = Math.floor(Math.random() * accounts);
    const to = (from + 1 + Math.floor(Math.random() * (accounts - 1))) % accounts;
    const amount = 1 + Math.floor(Math.random() * MAX_AMOUNT);
    return encoder.encode(JSON.stringify({ from: accountId(from), to: accountId(to), amount }));
  };
  const deposit = (): Uint8Array =>
    encoder.encode(JSON.stringify({ accountId: accountId(Math.floor(Math.random() * accounts)), amount: 1 + Math.floor(Math.random() * MAX_AMOUNT) }));
  const nextBody = values.command === "deposit" ? deposit : transfer;

  const window = emptyCounts();
  const total = { ...emptyCounts(), requests: 0, unknownOutcome: 0 };
  const latency = new LatencyRecorder();
  const endToEnd = new LatencyRecorder();
  const overloadedLatency = new LatencyRecorder();
  const start = performance.now();
  const measureStart = start + warmupS * 1000;
  const measureEnd = measureStart + durationS * 1000;
  let cpuAtStart = process.cpuUsage();
  let cpuInWindow = { user: 0, system: 0 };
  const emit = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
  setTimeout(() => {
    cpuAtStart = process.cpuUsage();
    emit({ type: "measuring" });
  }, measureStart - start);
  let windowClosed = false;
  // Called by the timer, or by the end of the run if the last reply beat the timer.
  const closeWindow = () => {
    if (windowClosed) return;
    windowClosed = true;
    cpuInWindow = process.cpuUsage(cpuAtStart);
    emit({ type: "measured" });
  };
  setTimeout(closeWindow, measureEnd - start);

  async function send(nc: NatsConnection, body: Uint8Array, key: string): Promise<Outcome> {
    const h = headers();
    h.set("Idempotency-Key", key);
    try {
      const msg = await nc.request(subject, body, { headers: h, timeout: REQUEST_TIMEOUT_MS });
      return parseReply(msg.data);
    } catch (err) {
      return { kind: "error", code: classifyFailure(err) };
    }
  }

  async function client(index: number): Promise<void> {
    const nc = conns[index % connections]!;
    for (let seq = 0; performance.now() < measureEnd; seq++) {
      const key = `${values.tag}-${index}-${seq}`;
      const payload = nextBody();
      const first = performance.now();
      for (let attempt = 1; ; attempt++) {
        const sent = performance.now();
        total.requests++;
        const outcome = await send(nc, payload, key);
        const done = performance.now();
        count(total, outcome);
        if (done >= measureStart && done <= measureEnd) {
          count(window, outcome);
          if (outcome.kind === "committed" || outcome.kind === "duplicate") {
            latency.add(done - sent);
            endToEnd.add(done - first);
          } else if (outcome.code === "overloaded") overloadedLatency.add(done - sent);
        }
        if (outcome.kind !== "error" || !RETRYABLE.has(outcome.code ?? "")) break;
        const wait = backoffMs(attempt, outcome.retryAfterMs);
        // Bounded: no retry starts after the window; an unanswered command stays unknown.
        // The client is done then: a new command in its place is a request a waiting client would not send.
        if (done + wait >= measureEnd) {
          if (UNKNOWN.has(outcome.code ?? "")) total.unknownOutcome++;
          return;
        }
        await sleep(wait);
      }
    }
  }

  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  closeWindow();
  const windowS = durationS;
  const result: LoadResult = {
    type: "result",
    clients,
    connections,
    durationS,
    window: {
      ...window,
      committedPerSec: Math.round((window.committed / windowS) * 10) / 10,
      repliesPerSec: Math.round(((window.committed + window.duplicates + window.rejected + Object.values(window.errors).reduce((a, b) => a + b, 0)) / windowS) * 10) / 10,
    },
    total,
    latencyMs: latency.summary(),
    endToEndMs: endToEnd.summary(),
    overloadedLatencyMs: overloadedLatency.summary(),
    generatorCpuS: Math.round(((cpuInWindow.user + cpuInWindow.system) / 1e6) * 100) / 100,
  };
  emit(result);
  await Promise.allSettled(conns.map((nc) => nc.close()));
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`load generator: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
