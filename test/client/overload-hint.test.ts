import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { deposit } from "../../examples/bank/deposit.js";
import { createClient, type RetryInfo } from "../../src/index.js";
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

test("the client waits at least the hint (within maxDelayMs) before its retry, with the same key", async () => {
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

    // A hint beyond maxDelayMs is cut to it.
    seen.length = 0;
    const capped: RetryInfo[] = [];
    const impatient = createClient(nc, { domain, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 50 }, onRetry: (i) => capped.push(i) });
    await impatient.send(deposit, { accountId: "a", amount: 1 });
    assert.ok(capped[0]!.delayMs <= 50, `waited ${capped[0]!.delayMs} ms`);
  } finally {
    sub.unsubscribe();
  }
});
