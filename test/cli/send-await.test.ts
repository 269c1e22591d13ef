import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { consume, type HeraldConsumer } from "../../src/consumer/index.js";
import { runCli } from "../kit/cli.js";
import { createHarness, type Harness } from "../kit/harness.js";

// `herald send --await <durable>`: the shell's way to wait for read models.
let h: Harness;
const consumers: HeraldConsumer[] = [];
let release: () => void = () => undefined;
const blocked = new Promise<void>((resolve) => (release = resolve));

before(async () => {
  h = await createHarness();
  await h.startWorker();
  await sql`CREATE TABLE cli_owners (account_id TEXT PRIMARY KEY, owner TEXT NOT NULL)`.execute(h.database.db);
  const base = { nc: h.nc, db: h.database.db, domain: h.domain, filter: `${h.domain}.evt.account_opened` };
  consumers.push(
    await consume({
      ...base,
      durable: "owners",
      async handle(event, { tx }) {
        const data = event.data as { accountId: string; owner: string };
        await sql`INSERT INTO cli_owners (account_id, owner) VALUES (${data.accountId}, ${data.owner})`.execute(tx);
      },
    }),
    await consume({ ...base, durable: "stalled", handle: () => blocked }),
  );
});
after(async () => {
  release();
  await Promise.allSettled(consumers.map((c) => c.stop()));
  await h.close();
});

const env = () => ({ DATABASE_URL: h.database.url });
const send = (...args: string[]) => runCli(["send", `${h.domain}.cmd.open_account`, ...args], { env: env() });

test("--await returns after the consumer applied the command: exit 0, the read model has it", async () => {
  const r = await send('{"accountId":"cli1","owner":"Ann"}', "--await", "owners");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^applied by: owners$/m);
  assert.match(r.stdout, /^token: hct1\.\S+$/m);
  const row = await h.database.db.selectFrom("cli_owners" as any).select("owner").where("account_id", "=", "cli1").executeTakeFirst();
  assert.deepEqual(row, { owner: "Ann" });
});

test("a consumer that lags past --await-timeout: exit 3, committed, and says which one", async () => {
  const r = await send('{"accountId":"cli2","owner":"Bo"}', "--await", "owners", "--await", "stalled", "--await-timeout", "300", "--json");
  assert.equal(r.code, 3, r.stderr);
  const reply = JSON.parse(r.stdout);
  assert.equal(reply.status, "committed");
  assert.deepEqual([reply.appliedBy, reply.notYetAppliedBy], [["owners"], ["stalled"]]);
});

test("bad --await input: a clear error, nothing sent", async () => {
  const unknown = await send('{"accountId":"cli3","owner":"Cy"}', "--await", "nobody_here");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^herald send: unknown_consumer \(404\): no durable consumer "nobody_here" on stream \S+_EVENTS/);
  const zero = await send('{"accountId":"cli3","owner":"Cy"}', "--await", "owners", "--await-timeout", "0");
  assert.equal(zero.code, 1);
  assert.match(zero.stderr, /--await-timeout must be a whole number of milliseconds >= 1, got "0"/);
  const alone = await send('{"accountId":"cli3","owner":"Cy"}', "--await-timeout", "100");
  assert.match(alone.stderr, /--await-timeout needs --await/);
  const stored = await h.database.db.selectFrom("bank_accounts").select("id").where("id", "=", "cli3").execute();
  assert.equal(stored.length, 0);
});
