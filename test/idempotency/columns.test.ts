import assert from "node:assert/strict";
import { test } from "node:test";
import { commandColumns, domainOf, eventColumns, outcomeColumns } from "../../src/idempotency/columns.js";
import type { CommandClaim } from "../../src/idempotency/store.js";

const claim = (over: Partial<CommandClaim> = {}): CommandClaim => ({
  id: "00000000-0000-4000-8000-000000000001",
  domain: "bank",
  idempotencyKey: "k1",
  subject: "bank.cmd.deposit",
  command: "deposit",
  payload: { accountId: "a", amount: 5 },
  fingerprint: "f1",
  receivedAt: new Date("2026-12-06T10:00:00.000Z"),
  attempt: 1,
  traceId: undefined,
  spanId: "s1",
  retentionHours: 2,
  ...over,
});

test("claims become one array per column, in order, JSON as text and times as ISO strings", () => {
  const c = commandColumns([claim(), claim({ id: "00000000-0000-4000-8000-000000000002", idempotencyKey: "k2", payload: { q: "it's \"quoted\"" }, traceId: "t2", attempt: 3 })]);
  assert.deepEqual(c.idempotencyKey, ["k1", "k2"]);
  assert.deepEqual(c.payload, ['{"accountId":"a","amount":5}', '{"q":"it\'s \\"quoted\\""}']);
  assert.deepEqual(c.receivedAt, ["2026-12-06T10:00:00.000Z", "2026-12-06T10:00:00.000Z"]);
  assert.deepEqual(c.expiresAt, ["2026-12-06T12:00:00.000Z", "2026-12-06T12:00:00.000Z"], "received + retention");
  assert.deepEqual(c.traceId, [null, "t2"], "an absent trace id is NULL, not the text undefined");
  assert.deepEqual(c.attempts, [1, 3]);
});

test("outcomes store the reply without its per-request duplicate flag", () => {
  const o = outcomeColumns([
    { reply: { status: "committed", commandId: "c", idempotencyKey: "k1", duplicate: false, result: { balance: 5 } } as never, committedAt: new Date("2026-12-06T10:00:01.000Z") },
  ]);
  assert.deepEqual(o.status, ["committed"]);
  assert.equal(JSON.parse(o.reply[0]!).duplicate, undefined);
  assert.deepEqual(o.committedAt, ["2026-12-06T10:00:01.000Z"]);
});

test("events become columns; a batch that mixes domains is refused", () => {
  const e = eventColumns([{ id: "e1", commandId: "c1", domain: "bank", subject: "bank.evt.deposited", type: "deposited", position: 0, data: { a: 1 }, headers: { h: "v" } }]);
  assert.deepEqual(e, { id: ["e1"], commandId: ["c1"], subject: ["bank.evt.deposited"], type: ["deposited"], position: [0], data: ['{"a":1}'], headers: ['{"h":"v"}'] });
  assert.equal(domainOf([claim(), claim()]), "bank");
  assert.throws(() => domainOf([claim(), claim({ domain: "orders" })]), /mixes domains bank and orders/);
});
