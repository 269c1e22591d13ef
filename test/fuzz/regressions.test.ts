import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { createHarness, type Harness } from "../kit/harness.js";
import { waitFor } from "../kit/wait.js";
import { checkErrorReply } from "./checks.js";
import { headerBlock } from "./headers.js";
import { objectText, q, utf8 } from "./json-text.js";
import { sendRaw } from "./send.js";

/**
 * Hostile inputs the fuzzer once found unhandled: undecodable header blocks,
 * text JSONB cannot hold, two Idempotency-Key values, oversized trace headers.
 * Each test pins the behaviour the protocol asks for; the fuzzer's generators
 * send these in bulk too.
 */

let h: Harness;
before(async () => {
  h = await createHarness();
  await h.startWorker();
  assert.equal((await h.send("open_account", { accountId: "alice", owner: "Alice", initialBalance: 100 })).body.status, "committed");
});
after(() => h.close());

const deposit = utf8(objectText([["accountId", q("alice")], ["amount", "1"]]));
const send = (tail: string, headers: Uint8Array, body: Uint8Array) => sendRaw(h.nc, `${h.domain}.cmd.${tail}`, headers, body, 2000);
const stored = async (key: string) =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM herald_commands WHERE idempotency_key = ${key}`.execute(h.database.db)).rows[0]!.n);

// The NATS client's header decoder throws on these (it refuses CR/LF in values and
// non-token names), so reading msg.headers in command-service.ts handle() rejects
// and the request is never answered.
const KEY = "k-undecodable";
const undecodable: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, string]>]> = [
  ["a bare LF in the key", [["Idempotency-Key", `${KEY}\nx`]]],
  ["a bare CR in the key", [["Idempotency-Key", `${KEY}\rx`]]],
  ["a bare LF in another header", [["Idempotency-Key", KEY], ["traceparent", "00-\n-01"]]],
  ["a space before the colon", [["Idempotency-Key", KEY], ["Idempotency-Key ", "k-space"]]],
  ["a non-ASCII header name", [["Idempotency-Key", KEY], ["X-Ünïcode", "v"]]],
];
for (const [name, lines] of undecodable) {
  test(`a header block with ${name} gets an error reply, not silence`, async () => {
    // A body that is not JSON: a strict fix answers for the headers, a lenient one for the body.
    const o = await send("deposit", headerBlock(lines), utf8("{"));
    assert.equal(checkErrorReply(o, ["invalid_idempotency_key", "missing_idempotency_key", "invalid_json"]), undefined);
    assert.equal(await stored(KEY), 0);
  });
}

// Valid JSON that passes the schema but that PostgreSQL cannot store (JSONB and
// TEXT refuse U+0000, JSONB refuses unpaired surrogate escapes): today a 500
// `internal`, which tells the client to retry a request that can never succeed.
for (const owner of ["a\\u0000b", "\\ud800", "x\\udfffy"]) {
  test(`owner "${owner}" is refused as a bad request, not a 500`, async () => {
    const key = `k-text-${owner.length}-${owner.charCodeAt(3)}`;
    const o = await send("open_account", headerBlock([["Idempotency-Key", key]]), utf8(objectText([["accountId", q("mallory")], ["owner", `"${owner}"`]])));
    assert.equal(checkErrorReply(o, ["invalid_command", "invalid_json"]), undefined);
    assert.equal(await stored(key), 0);
  });
}

test("two Idempotency-Key values are refused (protocol: one value)", async () => {
  const o = await send("deposit", headerBlock([["Idempotency-Key", "k-first"], ["Idempotency-Key", "k-second"]]), deposit);
  assert.equal(checkErrorReply(o, ["invalid_idempotency_key"]), undefined);
  assert.equal((await stored("k-first")) + (await stored("k-second")), 0);
});

test("a huge traceparent cannot make a committed command's event unpublishable", async () => {
  const key = "k-huge-trace";
  const headers = headerBlock([["Idempotency-Key", key], ["traceparent", "x".repeat(700_000)], ["tracestate", "y".repeat(300_000)]]);
  const o = await sendRaw(h.nc, `${h.domain}.cmd.deposit`, headers, deposit, 10_000);
  if (o.label === "committed") {
    // Committed: then its event must reach the stream like any other.
    await waitFor(async () => {
      const row = await sql<{ p: boolean }>`
        SELECT o.published_at IS NOT NULL AS p
          FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id
         WHERE c.idempotency_key = ${key}`.execute(h.database.db);
      return row.rows[0]?.p === true;
    }, { timeoutMs: 5000, what: "the event to be published" });
  } else {
    assert.equal(checkErrorReply(o, ["invalid_command", "invalid_idempotency_key"]), undefined);
  }
});
