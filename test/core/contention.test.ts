import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { createHarness, type Harness } from "../kit/harness.js";

let h: Harness;
const ACCOUNTS = ["hot_a", "hot_b", "hot_c"];
const START = 1_000;
const TRANSFERS = 300;
const CONCURRENCY = 60;

before(async () => {
  h = await createHarness();
  // Two workers in one queue group, as in production, with the default retry budget:
  // group commit puts most of the 60-way traffic on three hot rows into shared
  // transactions, so conflicts stay within it.
  await h.startWorker();
  await h.startWorker();
  for (const id of ACCOUNTS) {
    const r = await h.send("open_account", { accountId: id, owner: id, initialBalance: START });
    assert.equal(r.body.status, "committed");
  }
});
after(() => h.close());

test("hundreds of concurrent transfers among 3 hot accounts: retried, settled, conserved", async () => {
  const outcomes: Array<{ status: string; code?: string }> = [];
  let next = 0;
  const pick = (i: number) => ACCOUNTS[i % ACCOUNTS.length]!;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < TRANSFERS; i = next++) {
        // Amounts large enough that some transfers must be refused for lack of funds.
        const amount = 1 + ((i * 37) % 700);
        const reply = await h.send("transfer", { from: pick(i), to: pick(i + 1 + (i % 2)), amount });
        outcomes.push({ status: reply.body.status, code: reply.body.error?.code });
      }
    }),
  );
  assert.equal(outcomes.length, TRANSFERS);
  const committed = outcomes.filter((o) => o.status === "committed").length;
  const rejected = outcomes.filter((o) => o.status === "rejected");
  assert.equal(committed + rejected.length, TRANSFERS, `unexpected outcomes: ${JSON.stringify(outcomes.filter((o) => o.status === "error").slice(0, 3))}`);
  assert.ok(rejected.every((o) => o.code === "insufficient_funds"));
  assert.ok(committed > 0);

  const db = h.database.db;
  const balances = await db.selectFrom("bank_accounts").select(["id", "balance"]).execute();
  assert.equal(balances.reduce((sum: number, r: { balance: number }) => sum + r.balance, 0), START * ACCOUNTS.length, "money is conserved");
  assert.ok(balances.every((r: { balance: number }) => r.balance >= 0), "no balance is negative");

  // Retries happened, were counted by the workers, and are on record per command.
  const counted = h.workers.reduce((sum, w) => sum + w.stats.retries, 0);
  assert.ok(counted > 0, "serialization retries happened");
  const { rows } = await sql<{ retries: number; committed: number; rejected: number }>`
    SELECT sum(attempts - 1) AS retries,
           count(*) FILTER (WHERE status = 'committed') AS committed,
           count(*) FILTER (WHERE status = 'rejected') AS rejected
      FROM herald_commands WHERE command = 'transfer'`.execute(db);
  assert.ok(Number(rows[0]!.retries) > 0, "attempts > 1 are stored");
  assert.ok(Number(rows[0]!.retries) <= counted, "stored retries never exceed those counted");
  assert.equal(Number(rows[0]!.committed), committed);
  assert.equal(Number(rows[0]!.rejected), rejected.length);
  const statsTotal = h.workers.reduce((s, w) => ({ c: s.c + w.stats.committed, r: s.r + w.stats.rejected }), { c: 0, r: 0 });
  assert.equal(statsTotal.c, committed + ACCOUNTS.length);
  assert.equal(statsTotal.r, rejected.length);
  const events = await db.selectFrom("herald_outbox").select((eb) => eb.fn.countAll().as("n")).where("type", "=", "transferred").executeTakeFirstOrThrow();
  assert.equal(Number(events.n), committed, "one event per committed transfer");
});
