import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import type { Histogram } from "@opentelemetry/sdk-metrics";
import type { Worker } from "../../src/worker/worker.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueKey } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";
import { installTestTelemetry, sumWhere, type Point } from "./otel-kit.js";

const otel = installTestTelemetry();
let h: Harness;
let worker: Worker;

before(async () => {
  h = await createHarness();
  // The relay keeps its hands off for a minute, so an unpublished event stays pending for the gauges.
  worker = await h.startWorker({ outbox: { intervalMs: 100, graceMs: 60_000 }, outboxStatsIntervalMs: 50 });
});
after(() => h.close());

const histogramCount = (points: Point[], match: Record<string, unknown>) =>
  points.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v)).reduce((n, p) => n + (p.value as Histogram).count, 0);

test("a known workload: N commands with D duplicates and R rejections are counted by outcome", async () => {
  const N = 6; // deposits
  const D = 3; // replays of deposits
  const R = 2; // transfers refused for lack of funds
  const d = { "herald.domain": h.domain };
  assert.equal((await h.send("open_account", { accountId: "a", owner: "A", initialBalance: 100 })).body.status, "committed");
  assert.equal((await h.send("open_account", { accountId: "b", owner: "B" })).body.status, "committed");
  const keys: string[] = [];
  for (let i = 0; i < N; i++) {
    const key = uniqueKey();
    keys.push(key);
    assert.equal((await h.send("deposit", { accountId: "a", amount: 1 }, { key })).body.status, "committed");
  }
  for (let i = 0; i < D; i++) assert.equal((await h.send("deposit", { accountId: "a", amount: 1 }, { key: keys[i]! })).body.duplicate, true);
  for (let i = 0; i < R; i++) assert.equal((await h.send("transfer", { from: "b", to: "a", amount: 50 })).body.status, "rejected");
  assert.equal((await h.send("deposit", { accountId: "a", amount: -1 })).body.error.code, "invalid_command");
  assert.equal((await h.send("nope", {})).body.error.code, "unknown_command");
  await worker.publisher.idle();

  const commands = await otel.points("herald.commands");
  const count = (attrs: Record<string, unknown>) => sumWhere(commands, { ...d, ...attrs });
  assert.equal(count({ "herald.command": "open_account", "herald.outcome": "committed" }), 2);
  assert.equal(count({ "herald.command": "deposit", "herald.outcome": "committed" }), N);
  assert.equal(count({ "herald.command": "deposit", "herald.outcome": "duplicate" }), D);
  assert.equal(count({ "herald.command": "transfer", "herald.outcome": "rejected" }), R);
  assert.equal(count({ "herald.command": "deposit", "herald.outcome": "error", "error.type": "invalid_command" }), 1);
  assert.equal(count({ "herald.outcome": "error", "error.type": "unknown_command" }), 1);
  assert.equal(count({}), 2 + N + D + R + 2, "nothing else was counted");

  // Every dispatched request has a duration; the unknown command never reached a dispatcher.
  assert.equal(histogramCount(await otel.points("herald.command.duration"), d), 2 + N + D + R + 1);

  // Each command that reached the database ended with exactly one successful attempt.
  const attempts = sumWhere(await otel.points("herald.transaction.attempts"), d);
  const retries = sumWhere(await otel.points("herald.transaction.retries"), d);
  assert.equal(attempts - retries, 2 + N + D + R);

  // One event per open_account and deposit, each acknowledged by JetStream once.
  const lag = await otel.points("herald.publish.lag");
  assert.equal(histogramCount(lag, { ...d, "herald.relayed": false }), 2 + N);
  assert.equal(sumWhere(await otel.points("herald.publish.failures"), d), 0);

  // The outbox is empty, then one event is committed but not published.
  const pending = async () => (await otel.points("herald.outbox.pending")).find((p) => p.attributes["herald.domain"] === h.domain)?.value;
  assert.equal(await pending(), 0);
  const body = new TextEncoder().encode(JSON.stringify({ accountId: "b", amount: 5 }));
  const unpublished = await worker.dispatcher.dispatch({ command: "deposit", body, idempotencyKey: uniqueKey() });
  assert.equal(unpublished.reply.status, "committed");
  await waitFor(async () => (await pending()) === 1, { what: "the pending gauge to see the event" });
  await sql`UPDATE herald_outbox SET created_at = now() - INTERVAL '30 seconds' WHERE published_at IS NULL`.execute(h.database.db);
  await waitFor(async () => {
    const age = (await otel.points("herald.outbox.oldest_age")).find((p) => p.attributes["herald.domain"] === h.domain)?.value;
    return typeof age === "number" && age >= 29 && age < 120;
  }, { what: "the oldest-age gauge to report the event's age in seconds" });
});
