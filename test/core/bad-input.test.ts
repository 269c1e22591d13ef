import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { createHarness, type Harness, type RawReply, type SendOptions } from "../kit/harness.js";
import { uniqueKey } from "../kit/names.js";

/**
 * Bad input (docs/protocol.md §2 "Order of checks", §4): every malformed request
 * gets an `error` reply with the right code and status, and stores nothing —
 * no herald_commands row, no outbox row, no balance change, no reserved key.
 */

let h: Harness;
/** What the database held after `before`; the bad-input batch must leave it as is. */
let baseline: Snapshot;
/** One valid key shared by every bad request that carries a valid key: none may reserve it. */
const sharedKey = uniqueKey("bad");

const MAX_PAYLOAD = 65_536;
const encoder = new TextEncoder();
const utf8 = (text: string) => encoder.encode(text);

interface Snapshot {
  commands: number;
  outbox: number;
  accounts: Record<string, { owner: string; balance: number }>;
}

async function snapshot(): Promise<Snapshot> {
  const db = h.database.db;
  const commands = (await sql<{ n: string | number }>`SELECT count(*) AS n FROM herald_commands`.execute(db)).rows[0]?.n;
  const outbox = (await sql<{ n: string | number }>`SELECT count(*) AS n FROM herald_outbox`.execute(db)).rows[0]?.n;
  const rows = await db.selectFrom("bank_accounts").select(["id", "owner", "balance"]).orderBy("id").execute();
  return {
    commands: Number(commands),
    outbox: Number(outbox),
    accounts: Object.fromEntries(rows.map((r: { id: string; owner: string; balance: number }) => [r.id, { owner: r.owner, balance: Number(r.balance) }])),
  };
}

const commandsWithKey = async (key: string) =>
  Number((await sql<{ n: number }>`SELECT count(*) AS n FROM herald_commands WHERE idempotency_key = ${key}`.execute(h.database.db)).rows[0]?.n);

interface Detail {
  path: Array<string | number>;
  message: string;
  code: string;
}

/** Asserts an `error` reply of the protocol's shape, with the code, status and a message. */
function assertError(reply: RawReply, code: string, status: number): void {
  assert.equal(reply.body.status, "error", `expected an error reply, got ${JSON.stringify(reply.body)}`);
  assert.deepEqual(Object.keys(reply.body).sort(), ["error", "status"]);
  const error = (reply.body as { error: { code: string; message: unknown; details?: unknown } }).error;
  assert.equal(error.code, code, `expected ${code}, got ${JSON.stringify(reply.body)}`);
  assert.equal(typeof error.message, "string");
  assert.ok((error.message as string).length > 0, "the error has a message");
  assert.equal(reply.errorCode, String(status), "Nats-Service-Error-Code is the status");
  assert.equal(reply.errorText, error.message, "Nats-Service-Error is the message");
  for (const k of Object.keys(error)) assert.ok(["code", "message", "details"].includes(k), `unexpected error field ${k}`);
}

/** Asserts `details` is a well-formed list of schema issues; returns it. */
function assertDetails(reply: RawReply): Detail[] {
  const details = (reply.body as { error: { details?: unknown } }).error.details;
  assert.ok(Array.isArray(details) && details.length > 0, `details is a non-empty array: ${JSON.stringify(reply.body)}`);
  for (const d of details as Detail[]) {
    assert.deepEqual(Object.keys(d).sort(), ["code", "message", "path"]);
    assert.ok(Array.isArray(d.path), "path is an array");
    for (const p of d.path) assert.ok(typeof p === "string" || typeof p === "number", "path items are strings or integers");
    assert.equal(typeof d.message, "string");
    assert.ok(d.message.length > 0);
    assert.equal(typeof d.code, "string");
  }
  return details as Detail[];
}

/** Sends a request and asserts it wrote nothing at all (no rows, no balance change). */
async function sendNoWrites(command: string, body: unknown, options: SendOptions): Promise<RawReply> {
  const beforeSnap = await snapshot();
  const reply = await h.send(command, body, options);
  assert.deepEqual(await snapshot(), beforeSnap, "a refused request writes nothing");
  return reply;
}

before(async () => {
  h = await createHarness();
  await h.startWorker();
  const alice = await h.send("open_account", { accountId: "alice", owner: "Alice", initialBalance: 1000 });
  assert.equal(alice.body.status, "committed");
  const bob = await h.send("open_account", { accountId: "bob", owner: "Bob" });
  assert.equal(bob.body.status, "committed");
  baseline = await snapshot();
  assert.equal(baseline.commands, 2);
  assert.equal(baseline.outbox, 2);
  assert.deepEqual(baseline.accounts, { alice: { owner: "Alice", balance: 1000 }, bob: { owner: "Bob", balance: 0 } });
});
after(() => h.close());

// ---------------------------------------------------------------------------
// The batch of bad requests. Where a body is nearly valid it names real accounts,
// so a request that slipped through would visibly move money.
// ---------------------------------------------------------------------------

const invalidJson: Array<{ name: string; raw: Uint8Array }> = [
  { name: "truncated JSON", raw: utf8(`{"accountId":`) },
  { name: "empty body", raw: new Uint8Array(0) },
  { name: "whitespace only", raw: utf8("   ") },
  { name: "a bare word", raw: utf8("deposit") },
  { name: "trailing garbage", raw: utf8(`{"accountId":"alice","amount":1} x`) },
  { name: "single-quoted JSON", raw: utf8(`{'accountId':'alice','amount':1}`) },
  { name: "two JSON values", raw: utf8(`{"accountId":"alice","amount":1}{"accountId":"alice","amount":1}`) },
  { name: "invalid UTF-8 bytes", raw: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) },
  { name: "invalid UTF-8 inside a string", raw: new Uint8Array([...utf8(`{"accountId":"al`), 0xff, ...utf8(`ce","amount":1}`)]) },
  { name: "overlong UTF-8 encoding", raw: new Uint8Array([...utf8(`{"accountId":"alice","amount":1,"x":"`), 0xc0, 0xaf, ...utf8(`"}`)]) },
  { name: "UTF-8-encoded lone surrogate", raw: new Uint8Array([...utf8(`{"accountId":"alice","amount":1,"x":"`), 0xed, 0xa0, 0x80, ...utf8(`"}`)]) },
  { name: "truncated multi-byte sequence", raw: new Uint8Array([...utf8(`{"accountId":"alice","amount":1,"x":"`), 0xe2, 0x82]) },
];

for (const c of invalidJson) {
  test(`invalid_json: ${c.name}`, async () => {
    const reply = await sendNoWrites("deposit", undefined, { key: sharedKey, raw: c.raw });
    assertError(reply, "invalid_json", 400);
  });
}

test("invalid_json: malformed JSON containing line breaks still gets a reply", async () => {
  // Regression: parser messages quoting the body put line breaks into the
  // Nats-Service-Error header, which NATS refuses, and the request went unanswered.
  for (const text of [`{\n"accountId": x\n}`, `{"accountId":"alice",\r\n"amount": 1,}`]) {
    let reply: RawReply;
    try {
      reply = await sendNoWrites("deposit", undefined, { key: sharedKey, raw: utf8(text), timeoutMs: 3_000 });
    } catch (err) {
      assert.fail(`no reply to a malformed body with a line break (${JSON.stringify(text)}): ${(err as Error).message}`);
    }
    assertError(reply, "invalid_json", 400);
  }
});

const notAnObject: Array<{ name: string; raw: string }> = [
  { name: "an array", raw: "[]" },
  { name: "an array of the fields", raw: `[{"accountId":"alice","amount":1}]` },
  { name: "a string", raw: `"x"` },
  { name: "a number", raw: "42" },
  { name: "null", raw: "null" },
  { name: "true", raw: "true" },
];

for (const c of notAnObject) {
  test(`invalid_command: a body that is ${c.name}`, async () => {
    const reply = await sendNoWrites("deposit", undefined, { key: sharedKey, raw: utf8(c.raw) });
    assertError(reply, "invalid_command", 400);
    const details = assertDetails(reply);
    assert.deepEqual(details[0]!.path, [], "the issue is the body itself");
  });
}

/** Schema errors: each names the offending field by path (and the issue's code). */
const schemaErrors: Array<{ name: string; command: string; body?: unknown; raw?: string; path: Array<string | number>; code: string }> = [
  { name: "amount as a string", command: "deposit", body: { accountId: "alice", amount: "1" }, path: ["amount"], code: "invalid_type" },
  { name: "amount 1.5", command: "deposit", body: { accountId: "alice", amount: 1.5 }, path: ["amount"], code: "invalid_type" },
  { name: "amount 0", command: "deposit", body: { accountId: "alice", amount: 0 }, path: ["amount"], code: "too_small" },
  { name: "amount -1", command: "deposit", body: { accountId: "alice", amount: -1 }, path: ["amount"], code: "too_small" },
  { name: "amount 1e13", command: "deposit", body: { accountId: "alice", amount: 1e13 }, path: ["amount"], code: "too_big" },
  { name: "amount 1e309 (Infinity)", command: "deposit", raw: `{"accountId":"alice","amount":1e309}`, path: ["amount"], code: "invalid_type" },
  { name: "amount null", command: "deposit", body: { accountId: "alice", amount: null }, path: ["amount"], code: "invalid_type" },
  { name: "amount true", command: "deposit", body: { accountId: "alice", amount: true }, path: ["amount"], code: "invalid_type" },
  { name: "amount missing", command: "deposit", body: { accountId: "alice" }, path: ["amount"], code: "invalid_type" },
  { name: "accountId missing", command: "deposit", body: { amount: 1 }, path: ["accountId"], code: "invalid_type" },
  { name: "accountId a number", command: "deposit", body: { accountId: 7, amount: 1 }, path: ["accountId"], code: "invalid_type" },
  { name: "accountId empty", command: "deposit", body: { accountId: "", amount: 1 }, path: ["accountId"], code: "invalid_format" },
  { name: "accountId of 65 characters", command: "deposit", body: { accountId: "a".repeat(65), amount: 1 }, path: ["accountId"], code: "invalid_format" },
  { name: "accountId with spaces", command: "deposit", body: { accountId: "al ice", amount: 1 }, path: ["accountId"], code: "invalid_format" },
  { name: "accountId with a trailing newline", command: "deposit", body: { accountId: "alice\n", amount: 1 }, path: ["accountId"], code: "invalid_format" },
  { name: "open_account owner empty", command: "open_account", body: { accountId: "carol", owner: "" }, path: ["owner"], code: "too_small" },
  { name: "open_account owner of 201 characters", command: "open_account", body: { accountId: "carol", owner: "o".repeat(201) }, path: ["owner"], code: "too_big" },
  { name: "open_account negative initialBalance", command: "open_account", body: { accountId: "carol", owner: "Carol", initialBalance: -1 }, path: ["initialBalance"], code: "too_small" },
  { name: "transfer amount 1.5", command: "transfer", body: { from: "alice", to: "bob", amount: 1.5 }, path: ["amount"], code: "invalid_type" },
  { name: "transfer to missing", command: "transfer", body: { from: "alice", amount: 1 }, path: ["to"], code: "invalid_type" },
  { name: "transfer from == to", command: "transfer", body: { from: "alice", to: "alice", amount: 1 }, path: ["to"], code: "custom" },
];

for (const c of schemaErrors) {
  test(`invalid_command: ${c.name}`, async () => {
    const options: SendOptions = { key: sharedKey };
    if (c.raw !== undefined) options.raw = utf8(c.raw);
    const reply = await sendNoWrites(c.command, c.body, options);
    assertError(reply, "invalid_command", 400);
    const details = assertDetails(reply);
    const issue = details.find((d) => JSON.stringify(d.path) === JSON.stringify(c.path));
    assert.ok(issue, `details name ${JSON.stringify(c.path)}: ${JSON.stringify(details)}`);
    assert.equal(issue.code, c.code);
  });
}

test("invalid_command: several problems are all listed", async () => {
  // The protocol's own example (§9.5): a bad amount and an unknown field.
  const reply = await sendNoWrites("deposit", { accountId: "alice", amount: 0, memo: "birthday" }, { key: sharedKey });
  assertError(reply, "invalid_command", 400);
  const details = assertDetails(reply);
  assert.ok(details.some((d) => d.code === "too_small" && JSON.stringify(d.path) === `["amount"]`), JSON.stringify(details));
  assert.ok(details.some((d) => d.code === "unrecognized_keys" && d.path.length === 0 && d.message.includes("memo")), JSON.stringify(details));
});

/** Unknown fields, including ones named like Object.prototype members; sent as raw bytes. */
const unknownFields: Array<{ name: string; command: string; raw: string; field: string }> = [
  { name: "an extra field", command: "deposit", raw: `{"accountId":"alice","amount":1,"extra":1}`, field: "extra" },
  { name: "an extra null field", command: "deposit", raw: `{"accountId":"alice","amount":1,"extra":null}`, field: "extra" },
  { name: "__proto__", command: "deposit", raw: `{"accountId":"alice","amount":1,"__proto__":{"x":1}}`, field: "__proto__" },
  { name: "__proto__ overriding amount", command: "deposit", raw: `{"accountId":"alice","__proto__":{"amount":5}}`, field: "__proto__" },
  { name: "constructor", command: "deposit", raw: `{"accountId":"alice","amount":1,"constructor":{"prototype":{"x":1}}}`, field: "constructor" },
  { name: "toString", command: "deposit", raw: `{"accountId":"alice","amount":1,"toString":"x"}`, field: "toString" },
  { name: "hasOwnProperty", command: "transfer", raw: `{"from":"alice","to":"bob","amount":1,"hasOwnProperty":1}`, field: "hasOwnProperty" },
  { name: "a deeply nested extra field", command: "deposit", raw: `{"accountId":"alice","amount":1,"extra":${"[".repeat(10_000)}${"]".repeat(10_000)}}`, field: "extra" },
];

for (const c of unknownFields) {
  test(`invalid_command: unknown field ${c.name}`, async () => {
    const reply = await sendNoWrites(c.command, undefined, { key: sharedKey, raw: utf8(c.raw) });
    assertError(reply, "invalid_command", 400);
    const details = assertDetails(reply);
    assert.ok(
      details.some((d) => d.code === "unrecognized_keys" && d.message.includes(c.field)),
      `an unrecognized_keys issue names ${c.field}: ${JSON.stringify(details)}`,
    );
  });
}

/** Key problems; the body is a valid deposit, so a key check that let it through would commit. */
const keyErrors: Array<{ name: string; key: string | null; code: string }> = [
  { name: "no Idempotency-Key header", key: null, code: "missing_idempotency_key" },
  { name: "an empty Idempotency-Key", key: "", code: "missing_idempotency_key" },
  { name: "a 256-character key", key: "k".repeat(256), code: "invalid_idempotency_key" },
  { name: "a key with a space", key: "my key", code: "invalid_idempotency_key" },
  { name: "a key with a tab", key: "my\tkey", code: "invalid_idempotency_key" },
  { name: "a non-ASCII key", key: "ключ", code: "invalid_idempotency_key" },
  { name: "a key with one non-ASCII character", key: "key-é", code: "invalid_idempotency_key" },
  { name: "a key with DEL (0x7f)", key: "key\x7f", code: "invalid_idempotency_key" },
];

for (const c of keyErrors) {
  test(`${c.code}: ${c.name}`, async () => {
    const reply = await sendNoWrites("deposit", { accountId: "alice", amount: 1 }, { key: c.key });
    assertError(reply, c.code, 400);
    if (c.key) assert.equal(await commandsWithKey(c.key), 0);
  });
}

const prefix = `{"accountId":"alice","owner":"`;
const suffix = `"}`;
/** An open_account body of exactly `bytes` bytes (its owner is far over 200 characters). */
const openAccountOfSize = (bytes: number) => utf8(prefix + "o".repeat(bytes - prefix.length - suffix.length) + suffix);

test("payload_too_large: a valid-shaped body beyond 64 KiB is 413", async () => {
  const reply = await sendNoWrites("open_account", { accountId: "carol", owner: "o".repeat(70_000) }, { key: sharedKey });
  assertError(reply, "payload_too_large", 413);
});

test("payload_too_large: the limit is exact; one byte under it is judged on its content", async () => {
  const atLimit = openAccountOfSize(MAX_PAYLOAD);
  assert.equal(atLimit.byteLength, MAX_PAYLOAD);
  const underReply = await sendNoWrites("open_account", undefined, { key: sharedKey, raw: atLimit });
  assertError(underReply, "invalid_command", 400);
  assert.ok(assertDetails(underReply).some((d) => JSON.stringify(d.path) === `["owner"]` && d.code === "too_big"));

  const overLimit = openAccountOfSize(MAX_PAYLOAD + 1);
  assert.equal(overLimit.byteLength, MAX_PAYLOAD + 1);
  const overReply = await sendNoWrites("open_account", undefined, { key: sharedKey, raw: overLimit });
  assertError(overReply, "payload_too_large", 413);
});

/** The order of checks (§2): size, then key, then UTF-8/JSON, then schema. */
const orderOfChecks: Array<{ name: string; key: string | null; raw: Uint8Array; code: string; status: number }> = [
  { name: "too large and no key → size first", key: null, raw: openAccountOfSize(MAX_PAYLOAD + 1), code: "payload_too_large", status: 413 },
  { name: "too large and an invalid key", key: "bad key", raw: openAccountOfSize(MAX_PAYLOAD + 1), code: "payload_too_large", status: 413 },
  { name: "too large and not UTF-8", key: sharedKey, raw: new Uint8Array(MAX_PAYLOAD + 1).fill(0xff), code: "payload_too_large", status: 413 },
  { name: "no key and malformed JSON → key before JSON", key: null, raw: utf8(`{"accountId":`), code: "missing_idempotency_key", status: 400 },
  { name: "invalid key and invalid UTF-8", key: "ключ", raw: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), code: "invalid_idempotency_key", status: 400 },
  { name: "empty key and a non-object body", key: "", raw: utf8("[]"), code: "missing_idempotency_key", status: 400 },
];

for (const c of orderOfChecks) {
  test(`order of checks: ${c.name}`, async () => {
    const reply = await sendNoWrites("open_account", undefined, { key: c.key, raw: c.raw });
    assertError(reply, c.code, c.status);
  });
}

const unknownCommands: Array<{ name: string; command: string; options: SendOptions; body?: unknown }> = [
  { name: "a valid body", command: "no_such_command", body: { accountId: "alice", amount: 1 }, options: { key: sharedKey } },
  { name: "no key and a garbage body (decided from the subject alone)", command: "no_such_command", options: { key: null, raw: new Uint8Array([0xff]) } },
  { name: "a differently cased command name", command: "Deposit", body: { accountId: "alice", amount: 1 }, options: { key: sharedKey } },
  { name: "a near-miss name", command: "deposits", body: { accountId: "alice", amount: 1 }, options: { key: sharedKey } },
];

for (const c of unknownCommands) {
  test(`unknown_command: ${c.name}`, async () => {
    const reply = await sendNoWrites(c.command, c.body, c.options);
    assertError(reply, "unknown_command", 404);
    assert.ok(reply.body.error.message.includes(c.command), "the message names the command");
  });
}

// ---------------------------------------------------------------------------
// After the batch: nothing was written, no key was reserved, the worker serves.
// ---------------------------------------------------------------------------

test("the whole batch of bad requests wrote nothing", async () => {
  assert.deepEqual(await snapshot(), baseline);
  assert.equal(await commandsWithKey(sharedKey), 0, "the shared key was never stored");
  const stats = h.workers[0]!.stats;
  assert.equal(stats.committed, 2, "only the two accounts of `before` were committed");
  assert.equal(stats.rejected, 0);
});

test("the worker still serves: a deposit with the key every bad request used commits", async () => {
  const reply = await h.send("deposit", { accountId: "alice", amount: 25 }, { key: sharedKey });
  assert.equal(reply.body.status, "committed", JSON.stringify(reply.body));
  assert.equal(reply.errorCode, undefined);
  assert.equal(reply.body.duplicate, false, "no bad request reserved the key");
  assert.equal(reply.body.idempotencyKey, sharedKey);
  assert.deepEqual(reply.body.result, { accountId: "alice", balance: 1025 });
  const now = await snapshot();
  assert.equal(now.commands, baseline.commands + 1);
  assert.equal(now.outbox, baseline.outbox + 1);
  assert.deepEqual(now.accounts, { ...baseline.accounts, alice: { owner: "Alice", balance: 1025 } });
  // And the other bank commands still work too.
  const transfer = await h.send("transfer", { from: "alice", to: "bob", amount: 5 });
  assert.equal(transfer.body.status, "committed", JSON.stringify(transfer.body));
  assert.deepEqual(transfer.body.result, { from: "alice", to: "bob", amount: 5, fromBalance: 1020, toBalance: 5 });
});

test("a key of exactly 255 visible characters is accepted", async () => {
  // Every visible ASCII character (0x21-0x7E) appears in it.
  const visible = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join("");
  const key = (visible + visible + visible).slice(0, 255);
  assert.equal(key.length, 255);
  const before = await snapshot();
  const reply = await h.send("deposit", { accountId: "bob", amount: 3 }, { key });
  assert.equal(reply.body.status, "committed", JSON.stringify(reply.body));
  assert.equal(reply.body.idempotencyKey, key);
  assert.equal(await commandsWithKey(key), 1);
  const now = await snapshot();
  assert.equal(now.accounts.bob!.balance, before.accounts.bob!.balance + 3);
  // A one-character key is the other end of the range.
  const one = await h.send("deposit", { accountId: "bob", amount: 1 }, { key: "~" });
  assert.equal(one.body.status, "committed", JSON.stringify(one.body));
});

for (const header of ["idempotency-key", "IDEMPOTENCY-KEY", "idempotency-Key"]) {
  test(`the Idempotency-Key header is matched case-insensitively: ${header}`, async () => {
    const key = uniqueKey("case");
    const before = await snapshot();
    const reply = await h.send("deposit", { accountId: "bob", amount: 2 }, { key: null, headers: { [header]: key } });
    assert.equal(reply.body.status, "committed", JSON.stringify(reply.body));
    assert.equal(reply.body.idempotencyKey, key);
    assert.equal(reply.body.duplicate, false);
    assert.equal(await commandsWithKey(key), 1);
    assert.equal((await snapshot()).accounts.bob!.balance, before.accounts.bob!.balance + 2);
    // The same key under another spelling of the header is the same request: a replay.
    const again = await h.send("deposit", { accountId: "bob", amount: 2 }, { key });
    assert.equal(again.body.status, "committed");
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.commandId, reply.body.commandId);
  });
}
