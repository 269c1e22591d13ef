import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { deposit } from "../../examples/bank/deposit.js";
import { createClient, type RetryInfo } from "../../src/index.js";
import { DEFAULT_TIMEOUT_MS } from "../../src/client/options.js";
import { CommandRequestError } from "../../src/client/request-error.js";
import { MAX_RETRY_AFTER_MS, retryDelayMs } from "../../src/client/retry-delay.js";
import { DEADLINE_ANSWER_BOUND_MS } from "../../src/commands/command-deadline.js";
import { DEFAULT_RETRY_POLICY } from "../../src/db/transact.js";
import { loadConfig } from "../../src/config.js";
import { connectNats } from "../../src/messaging/connection.js";
import { createPace, overloadedReply } from "../../src/messaging/overload.js";
import { uniqueDomain } from "../kit/names.js";

/** The `retryAfterMs` hint of `overloaded` replies: how the worker computes it, and that the client waits for it. */
let nc: NatsConnection;
before(async () => {
  nc = await connectNats({ servers: loadConfig().NATS_URL, name: "overload-hint-test" });
});
after(() => nc.drain());

test("the hint is the time to finish what is in flight at the current pace, stretched by refusals, within bounds", () => {
  let clock = 0;
  const pace = createPace(() => clock);
  assert.equal(pace.retryAfterMs(100), 100, "before any pace is known: one command per ms");
  // 500 commands finish over 500 ms: one per ms.
  for (let i = 0; i < 500; i++) {
    clock += 1;
    pace.finished();
  }
  assert.equal(pace.retryAfterMs(200), 200);
  assert.equal(pace.retryAfterMs(0), 10, "never below 10 ms");
  assert.equal(pace.retryAfterMs(1_000_000), 5000, "never above 5 s");
  // As many refusals as completions: each refused client will queue again, so the wait doubles.
  for (let i = 0; i < 1000; i++) {
    clock += 0.5;
    if (i % 2 === 0) pace.finished();
    else pace.refused();
  }
  const stretched = pace.retryAfterMs(200);
  assert.ok(stretched > 300 && stretched <= 400, `stretched to ${stretched}`);
});

test("the overloaded reply carries the hint in details, with status 503", () => {
  const reply = overloadedReply(250);
  assert.equal(reply.status, 503);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(reply.body)), {
    status: "error",
    error: { code: "overloaded", message: reply.message, details: { retryAfterMs: 250 } },
  });
});

test("the client waits at least the hint (even beyond maxDelayMs) before its retry, with the same key", async () => {
  const domain = uniqueDomain("hint");
  const seen: Array<{ key: string | undefined; at: number }> = [];
  // A stand-in worker: refuses the first request with a 300 ms hint, then commits.
  const sub = nc.subscribe(`${domain}.cmd.deposit`, {
    callback: (_err, msg) => {
      seen.push({ key: msg.headers?.get("Idempotency-Key"), at: performance.now() });
      if (seen.length === 1) {
        const o = overloadedReply(300);
        const h = headers();
        h.set("Nats-Service-Error-Code", String(o.status));
        h.set("Nats-Service-Error", o.message);
        msg.respond(o.body, { headers: h });
        return;
      }
      const key = msg.headers?.get("Idempotency-Key");
      msg.respond(JSON.stringify({ status: "committed", commandId: "c", idempotencyKey: key, duplicate: false, result: {}, events: [], committedAt: new Date().toISOString() }));
    },
  });
  await nc.flush();
  try {
    const retried: RetryInfo[] = [];
    const client = createClient(nc, { domain, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2000 }, onRetry: (i) => retried.push(i) });
    const reply = await client.send(deposit, { accountId: "a", amount: 1 });
    assert.equal(reply.status, "committed");
    assert.equal(retried.length, 1);
    assert.equal(retried[0]!.error.code, "overloaded");
    assert.ok(retried[0]!.delayMs >= 300 && retried[0]!.delayMs <= 450, `waited ${retried[0]!.delayMs} ms`);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.key, seen[1]!.key, "the retry kept the key");
    assert.ok(seen[1]!.at - seen[0]!.at >= 300, "the retry came after the hint");

    // The protocol says to wait the hint: a hint beyond maxDelayMs is still honoured.
    seen.length = 0;
    const patient: RetryInfo[] = [];
    const lowCap = createClient(nc, { domain, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 50 }, onRetry: (i) => patient.push(i) });
    await lowCap.send(deposit, { accountId: "a", amount: 1 });
    assert.ok(patient[0]!.delayMs >= 300 && patient[0]!.delayMs <= 450, `waited ${patient[0]!.delayMs} ms`);
    assert.ok(seen[1]!.at - seen[0]!.at >= 300, "the retry came after the hint, not after maxDelayMs");
  } finally {
    sub.unsubscribe();
  }
});

test("the retry delay: full-jitter backoff within maxDelayMs, or the overload hint times 1 to 1.5, the hint read as at most the protocol's 5 s", () => {
  const retry = { attempts: 5, baseDelayMs: 100, maxDelayMs: 2000 };
  const error = (details?: unknown) => new CommandRequestError(details ? "overloaded" : "unavailable", "x", { details });
  assert.equal(retryDelayMs(retry, 3, error(), () => 1), 400, "base x 2^(n-1), full jitter at its top");
  assert.equal(retryDelayMs(retry, 10, error(), () => 1), 2000, "the backoff is capped by maxDelayMs");
  assert.equal(retryDelayMs(retry, 1, error({ retryAfterMs: 4000 }), () => 0), 4000, "a hint beyond maxDelayMs is honoured");
  assert.equal(retryDelayMs(retry, 1, error({ retryAfterMs: 4000 }), () => 1), 6000, "spread by up to half again");
  assert.equal(retryDelayMs(retry, 1, error({ retryAfterMs: 60_000 }), () => 0), MAX_RETRY_AFTER_MS, "a hint beyond the protocol's bound is read as 5 s");
  assert.equal(retryDelayMs(retry, 1, error({ retryAfterMs: "soon" }), () => 0), 0, "a malformed hint is ignored");
});

test("unknown_outcome is retried with the same key; the default timeout outlasts a default worker's latest answer", () => {
  assert.equal(new CommandRequestError("unknown_outcome", "x").retryable, true);
  assert.equal(new CommandRequestError("unknown_outcome", "x").status, 503);
  assert.ok(DEFAULT_TIMEOUT_MS > DEFAULT_RETRY_POLICY.deadlineMs + DEADLINE_ANSWER_BOUND_MS);
});
