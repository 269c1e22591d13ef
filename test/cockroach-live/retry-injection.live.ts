import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { openStatementLog } from "../kit/statement-log.js";
import { waitFor } from "../kit/wait.js";

// Real 40001s from CockroachDB through node-postgres and Herald's retry loop,
// at a statement (`inject_retry_errors_enabled`: every statement of an explicit
// transaction but SET fails with a retry error until it is turned off, since
// Herald retries with a fresh transaction rather than the cockroach_restart
// savepoint; https://www.cockroachlabs.com/docs/v24.3/session-variables) and at
// COMMIT (`inject_retry_errors_on_commit_enabled`, CockroachDB's own test hook).
// The worker gets a one-connection pool, so the session variable is set on the
// session its transactions run in. Run by `npm run test:cockroach` only.

let h: Harness;
let injected: Database<any>;

before(async () => {
  h = await createHarness();
  injected = await connectDatabase<any>({ url: h.database.url, poolMax: 1 });
  await h.startWorker({ db: injected.db, dialect: "cockroachdb" });
  assert.equal((await h.send("open_account", { accountId: "acc", owner: "A", initialBalance: 100 })).body.status, "committed");
});
after(async () => {
  await h?.close();
  await injected?.destroy();
});

const balance = async () =>
  Number((await sql<{ balance: number }>`SELECT balance FROM bank_accounts WHERE id = 'acc'`.execute(h.database.db)).rows[0]!.balance);

for (const variable of ["inject_retry_errors_enabled", "inject_retry_errors_on_commit_enabled"]) {
  test(`${variable}: real retry errors are retried with fresh transactions, and the command applies once`, async () => {
    const start = await balance();
    const log = openStatementLog();
    try {
      // The worker's only session: queued on its one connection, between its transactions.
      await injected.pool.query(`SET ${variable} = true`);
      const reply = h.send("deposit", { accountId: "acc", amount: 5 });
      await waitFor(() => log.texts.filter((t) => /^START TRANSACTION/i.test(t)).length >= 3 || undefined, {
        what: "three transaction attempts, each failed by an injected 40001",
        timeoutMs: 8000,
      });
      await injected.pool.query(`SET ${variable} = false`);
      const { body } = await reply;
      assert.equal(body.status, "committed", JSON.stringify(body));
    } finally {
      log.close();
      await injected.pool.query(`SET ${variable} = false`).catch(() => undefined);
    }
    assert.equal(await balance(), start + 5, "retried attempts left nothing behind: the deposit applied once");
    const attempts = log.texts.filter((t) => /^START TRANSACTION/i.test(t)).length;
    assert.ok(attempts >= 3, `${attempts} attempts`);
  });
}
