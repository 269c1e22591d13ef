import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueKey } from "../kit/names.js";

let h: Harness;

before(async () => {
  h = await createHarness();
  await h.startWorker();
  const opened = await h.send("open_account", { accountId: "alice", owner: "Alice", initialBalance: 1000 });
  assert.equal(opened.body.status, "committed");
  await h.send("open_account", { accountId: "bob", owner: "Bob" });
});
after(() => h.close());

const balances = async () => {
  const rows = await h.database.db.selectFrom("bank_accounts").select(["id", "balance"]).orderBy("id").execute();
  return Object.fromEntries(rows.map((r: { id: string; balance: number }) => [r.id, r.balance]));
};

const commandsWithKey = async (key: string) =>
  Number((await sql<{ n: number }>`SELECT count(*) AS n FROM herald_commands WHERE idempotency_key = ${key}`.execute(h.database.db)).rows[0]?.n);

test("a committed reply carries the protocol fields and the stored row", async () => {
  const key = uniqueKey();
  const reply = await h.send("deposit", { accountId: "bob", amount: 5 }, { key });
  assert.equal(reply.body.status, "committed");
  assert.equal(reply.errorCode, undefined);
  assert.equal(reply.body.idempotencyKey, key);
  assert.equal(reply.body.duplicate, false);
  assert.match(reply.body.commandId, /^[0-9a-f-]{36}$/);
  assert.deepEqual(reply.body.result, { accountId: "bob", balance: 5 });
  assert.equal(reply.body.events.length, 1);
  assert.equal(reply.body.events[0].subject, `${h.domain}.evt.deposited`);
  assert.ok(!Number.isNaN(Date.parse(reply.body.committedAt)));
  const row = await h.database.db.selectFrom("herald_commands").selectAll().where("idempotency_key", "=", key).executeTakeFirstOrThrow();
  assert.equal(row.id, reply.body.commandId);
  assert.equal(row.status, "committed");
  assert.equal(row.subject, `${h.domain}.cmd.deposit`);
  assert.deepEqual(row.payload, { accountId: "bob", amount: 5 });
  assert.equal(row.attempts, 1);
  assert.ok(row.committed_at instanceof Date);
  assert.ok(row.expires_at.getTime() - row.received_at.getTime() >= 24 * 3_600_000);
});

test("the same key and payload replays the stored reply with one effect", async () => {
  const key = uniqueKey();
  const before = await balances();
  const first = await h.send("transfer", { from: "alice", to: "bob", amount: 10 }, { key });
  // Same payload, other key order: still the same request.
  const second = await h.send("transfer", { amount: 10, to: "bob", from: "alice" }, { key });
  assert.equal(first.body.status, "committed");
  assert.equal(second.body.status, "committed");
  assert.equal(second.body.duplicate, true);
  assert.equal(second.body.commandId, first.body.commandId);
  assert.deepEqual(second.body.result, first.body.result);
  assert.deepEqual(second.body.events, first.body.events);
  assert.equal(second.body.committedAt, first.body.committedAt);
  const afterBalances = await balances();
  assert.equal(afterBalances.alice, before.alice - 10);
  assert.equal(afterBalances.bob, before.bob + 10);
  assert.equal(await commandsWithKey(key), 1);
});

test("a key reused with another payload or subject is 409 and changes nothing", async () => {
  const key = uniqueKey();
  await h.send("deposit", { accountId: "bob", amount: 7 }, { key });
  const before = await balances();
  const otherPayload = await h.send("deposit", { accountId: "bob", amount: 8 }, { key });
  assert.equal(otherPayload.body.status, "error");
  assert.equal(otherPayload.body.error.code, "idempotency_key_reused");
  assert.equal(otherPayload.errorCode, "409");
  const otherSubject = await h.send("transfer", { from: "bob", to: "alice", amount: 7 }, { key });
  assert.equal(otherSubject.body.error.code, "idempotency_key_reused");
  assert.deepEqual(await balances(), before);
  assert.equal(await commandsWithKey(key), 1);
});

test("a rejection is stored, replayed, and leaves no business writes", async () => {
  const key = uniqueKey();
  const before = await balances();
  const first = await h.send("transfer", { from: "bob", to: "alice", amount: 1_000_000 }, { key });
  assert.equal(first.body.status, "rejected");
  assert.equal(first.body.error.code, "insufficient_funds");
  assert.equal(first.errorCode, "422");
  const again = await h.send("transfer", { from: "bob", to: "alice", amount: 1_000_000 }, { key });
  assert.equal(again.body.status, "rejected");
  assert.equal(again.body.duplicate, true);
  assert.equal(again.body.commandId, first.body.commandId);
  assert.deepEqual(await balances(), before);
  const stored = await h.database.db.selectFrom("herald_commands").select(["status"]).where("idempotency_key", "=", key).executeTakeFirstOrThrow();
  assert.equal(stored.status, "rejected");
  const events = await h.database.db.selectFrom("herald_outbox").select("id").where("command_id", "=", first.body.commandId).execute();
  assert.equal(events.length, 0);
  const missing = await h.send("deposit", { accountId: "nobody", amount: 1 });
  assert.equal(missing.body.error.code, "account_not_found");
  const exists = await h.send("open_account", { accountId: "alice", owner: "Again" });
  assert.equal(exists.body.error.code, "account_exists");
});

test("50 concurrent requests with one key: one effect, 50 consistent replies", async () => {
  const key = uniqueKey();
  const before = await balances();
  const replies = await Promise.all(
    Array.from({ length: 50 }, () => h.send("transfer", { from: "alice", to: "bob", amount: 3 }, { key })),
  );
  const ids = new Set(replies.map((r) => r.body.commandId));
  assert.equal(ids.size, 1, "every reply names the same command");
  assert.deepEqual(replies.filter((r) => r.body.status !== "committed").map((r) => r.body), []);
  assert.equal(replies.filter((r) => r.body.duplicate === false).length, 1, "exactly one original reply");
  for (const r of replies) assert.deepEqual(r.body.result, replies[0]!.body.result);
  const afterBalances = await balances();
  assert.equal(afterBalances.alice, before.alice - 3);
  assert.equal(afterBalances.bob, before.bob + 3);
  assert.equal(await commandsWithKey(key), 1);
  const events = await h.database.db.selectFrom("herald_outbox").select("id").where("command_id", "=", [...ids][0]!).execute();
  assert.equal(events.length, 1);
});

test("the same key in another domain is a different command", async () => {
  const key = uniqueKey();
  await h.send("deposit", { accountId: "bob", amount: 1 }, { key });
  await sql`UPDATE herald_commands SET domain = 'elsewhere' WHERE idempotency_key = ${key}`.execute(h.database.db);
  const reply = await h.send("deposit", { accountId: "bob", amount: 1 }, { key });
  assert.equal(reply.body.duplicate, false);
  assert.equal(await commandsWithKey(key), 2);
});
