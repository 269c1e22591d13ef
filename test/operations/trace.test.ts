import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { runCli } from "../kit/cli.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueKey } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";

let h: Harness;
let env: Record<string, string | undefined>;
const ACCOUNTS = ["hot_a", "hot_b", "hot_c"];

before(async () => {
  h = await createHarness();
  // Two workers on three hot accounts, as in the contention test: transfers conflict and retry.
  await h.startWorker();
  await h.startWorker();
  env = { DATABASE_URL: h.database.url, HERALD_DOMAIN: undefined };
  for (const id of ACCOUNTS) assert.equal((await h.send("open_account", { accountId: id, owner: id, initialBalance: 1_000_000 })).body.status, "committed");
});
after(() => h.close());

/** Concurrent transfers among the hot accounts until one of them needed more than one attempt. */
async function retriedTransfer(): Promise<{ id: string; attempts: number; trace_id: string; idempotency_key: string }> {
  for (let round = 0; round < 5; round++) {
    let next = 0;
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        for (let i = next++; i < 150; i = next++) {
          const traceparent = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
          await h.send("transfer", { from: ACCOUNTS[i % 3], to: ACCOUNTS[(i + 1) % 3], amount: 1 }, { headers: { traceparent } });
        }
      }),
    );
    const row = await h.database.db
      .selectFrom("herald_commands")
      .select(["id", "attempts", "trace_id", "idempotency_key"])
      .where("domain", "=", h.domain)
      .where("attempts", ">", 1)
      .orderBy("attempts", "desc")
      .executeTakeFirst();
    if (row) return row as { id: string; attempts: number; trace_id: string; idempotency_key: string };
  }
  throw new Error("no transfer was retried in 5 rounds of 150 contended transfers");
}

test("trace shows a contended command's attempts and retries, outcome, events and trace id", async () => {
  const row = await retriedTransfer();
  assert.ok(row.attempts > 1);
  // Its event reaches the stream and is marked with its sequence.
  await waitFor(
    async () => (await h.database.db.selectFrom("herald_outbox").select("stream_seq").where("command_id", "=", row.id).executeTakeFirst())?.stream_seq || undefined,
    { what: "the transfer's event published" },
  );

  const text = await runCli(["trace", row.id], { env });
  assert.equal(text.code, 0, text.stderr);
  const retries = row.attempts - 1;
  assert.match(text.stdout, new RegExp(`^attempts +${row.attempts} \\(${retries} ${retries === 1 ? "retry" : "retries"}\\)$`, "m"));
  assert.match(text.stdout, new RegExp(`^command +${row.id}$`, "m"));
  assert.match(text.stdout, new RegExp(`^subject +${h.domain}\\.cmd\\.transfer$`, "m"));
  assert.match(text.stdout, new RegExp(`^key +${row.idempotency_key}$`, "m"));
  const outcome = /^outcome +committed (\{.*\})$/m.exec(text.stdout);
  assert.ok(outcome, text.stdout);
  assert.deepEqual(Object.keys(JSON.parse(outcome[1]!)).sort(), ["amount", "from", "fromBalance", "to", "toBalance"]);
  assert.match(text.stdout, new RegExp(`^trace id +${row.trace_id} `, "m"));
  assert.match(text.stdout, new RegExp(`^  #0 ${h.domain}\\.evt\\.transferred ce-id=[0-9a-f-]{36} seq=\\d+ published=\\d{4}-`, "m"));

  const json = await runCli(["trace", row.idempotency_key, "--domain", h.domain, "--json"], { env });
  assert.equal(json.code, 0, json.stderr);
  const trace = JSON.parse(json.stdout);
  assert.equal(trace.id, row.id);
  assert.equal(trace.attempts, row.attempts);
  assert.equal(trace.retries, retries);
  assert.equal(trace.traceId, row.trace_id);
  assert.equal(trace.reply.status, "committed");
  assert.deepEqual(trace.payload, { from: trace.payload.from, to: trace.payload.to, amount: 1 });
  assert.ok(new Date(trace.committedAt) >= new Date(trace.receivedAt));
  assert.equal(trace.events.length, 1);
  assert.equal(trace.events[0].subject, `${h.domain}.evt.transferred`);
  assert.ok(trace.events[0].streamSeq > 0 && trace.events[0].publishedAt);
});

test("trace of a rejected command shows the rejection", async () => {
  const key = uniqueKey();
  const reply = await h.send("transfer", { from: "hot_a", to: "nobody", amount: 1 }, { key });
  assert.equal(reply.body.status, "rejected");
  const r = await runCli(["trace", key], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^outcome +rejected account_not_found: /m);
  assert.match(r.stdout, /^events +0$/m);
  assert.match(r.stdout, /^trace id +- \(the request carried no traceparent\)$/m);
});

test("trace refuses unknown ids and bad input with one line and a non-zero exit", async () => {
  const cases: Array<[string[], number, RegExp]> = [
    [["trace", "2b0c7c1e-0000-4000-8000-000000000000"], 1, /no command with id or idempotency key "2b0c7c1e-0000-4000-8000-000000000000"/],
    [["trace", "no-such-key", "--domain", h.domain], 1, new RegExp(`no command with id or idempotency key "no-such-key" in domain ${h.domain}`)],
    [["trace"], 2, /expected one command id or idempotency key/],
    [["trace", "a", "b"], 2, /expected one command id or idempotency key/],
    [["trace", "x", "--domain", "BAD"], 2, /domain "BAD"/],
    [["trace", "x", "--verbose"], 2, /Unknown option '--verbose'/],
  ];
  for (const [args, code, message] of cases) {
    const r = await runCli(args, { env });
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.equal(r.stdout, "");
  }
});
