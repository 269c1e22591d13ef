import assert from "node:assert/strict";
import { test } from "node:test";
import { ChangefeedPayloadError, parseChangefeedBody } from "../../src/cdc/changefeed-payload.js";
import { protectNumbers } from "../../src/cdc/changefeed-json.js";
import { formatHlc } from "../../src/cdc/cockroach-hlc.js";

// The parser against the bodies CockroachDB's docs show, and against every
// truncation and byte flip of one: it either reads a body or refuses it with
// ChangefeedPayloadError (a 400), never anything else.

/** The webhook sink example of https://www.cockroachlabs.com/docs/v24.3/changefeed-sinks#webhook-sink-messages. */
const DOCUMENTED = JSON.stringify({
  payload: [
    {
      after: { city: "rome", creation_time: "2019-01-02T03:04:05", current_location: "39141 Travis Curve Suite 87", ext: { brand: "Schwinn", color: "red" }, id: "d7b18299-c0c4-4304-9ef7-05ae46fd5ee1", dog_owner_id: "5d0c85b5-8866-47cf-a6bc-d032f198e48f", status: "in_use", type: "bike" },
      key: ["rome", "d7b18299-c0c4-4304-9ef7-05ae46fd5ee1"],
      topic: "vehicles",
      updated: "1629813621680097993.0000000000",
    },
  ],
  length: 1,
});

test("payload: the documented webhook body reads as one change at its updated timestamp", () => {
  const { rows, resolved } = parseChangefeedBody(DOCUMENTED);
  assert.equal(resolved, null);
  assert.equal(rows.length, 1);
  const [row] = rows;
  assert.equal(row!.topic, "vehicles");
  assert.deepEqual(row!.key, ["rome", "d7b18299-c0c4-4304-9ef7-05ae46fd5ee1"]);
  assert.equal(row!.op, "update", "no diff: an insert cannot be told from an update");
  assert.equal(formatHlc(row!.updated), "1629813621680097993.0000000000");
  assert.equal((row!.after as { city: string }).city, "rome");
});

test("payload: documented shapes of diff, delete, bare and resolved messages", () => {
  const diff = parseChangefeedBody(JSON.stringify({
    payload: [
      { after: { id: 1 }, before: null, key: [1], topic: "t", updated: "2.0000000000" },
      { after: { id: 1, v: 2 }, before: { id: 1 }, key: [1], topic: "t", updated: "3.0000000000" },
      { after: null, before: { id: 1, v: 2 }, key: [1], topic: "t", updated: "4.0000000000" },
      { resolved: "4.0000000000" },
    ],
    length: 4,
  }));
  assert.deepEqual(diff.rows.map((r) => r.op), ["insert", "update", "delete"], "payload order is kept");
  assert.equal(formatHlc(diff.resolved!), "4.0000000000");
  const bare = parseChangefeedBody(JSON.stringify({
    payload: [
      { __crdb__: { key: ["a"], topic: "t", updated: "5.0000000001" }, id: "a", v: 1 },
      { __crdb__: { key: ["a"], topic: "t", updated: "6.0000000000" } },
    ],
    length: 2,
  }));
  assert.deepEqual(bare.rows.map((r) => [r.op, r.after]), [["update", { id: "a", v: 1 }], ["delete", null]]);
  assert.equal(formatHlc(parseChangefeedBody('{"resolved":"1629813621680097993.0000000000"}').resolved!), "1629813621680097993.0000000000");
  assert.equal(formatHlc(parseChangefeedBody('{"__crdb__":{"resolved":"7.0000000000"}}').resolved!), "7.0000000000");
});

test("payload: every truncation and byte flip of a valid body is read or refused with a 400, never a crash", () => {
  let refused = 0;
  const check = (body: string) => {
    try {
      parseChangefeedBody(body);
    } catch (err) {
      assert.ok(err instanceof ChangefeedPayloadError, `${JSON.stringify(body.slice(0, 80))}: ${String(err)}`);
      assert.equal(err.status, 400);
      refused++;
    }
  };
  for (let i = 0; i < DOCUMENTED.length; i++) check(DOCUMENTED.slice(0, i));
  const bytes = Buffer.from(DOCUMENTED);
  for (let i = 0; i < bytes.length; i++) {
    for (const flip of [0x01, 0x20, 0x80]) {
      const copy = Buffer.from(bytes);
      copy[i] = copy[i]! ^ flip;
      check(copy.toString("utf8"));
    }
  }
  assert.ok(refused > DOCUMENTED.length, "most mutations are refused");
});

test("payload: numbers a double cannot hold keep every digit, as strings; others stay numbers", () => {
  const body = '{"payload":[{"after":{"id":123456789012345678,"amount":1234567890.1234567891,"price":25.00,"n":-7,"small":0.5,"text":"9007199254740993 \\" 1e400","e":1e3},"before":null,"key":[123456789012345678],"topic":"t","updated":"1.0000000000"}],"length":1}';
  const [row] = parseChangefeedBody(body).rows;
  assert.deepEqual(row!.key, ["123456789012345678"], "a unique_rowid() key is not rounded");
  assert.deepEqual(row!.after, { id: "123456789012345678", amount: "1234567890.1234567891", price: 25, n: -7, small: 0.5, text: '9007199254740993 " 1e400', e: 1000 });
  assert.equal(protectNumbers("[9007199254740991, 9007199254740993, -9007199254740993]"), '[9007199254740991, "9007199254740993", "-9007199254740993"]');
});

test("payload: a bare row with a column named resolved is a row, not a resolved message", () => {
  const { rows, resolved } = parseChangefeedBody(JSON.stringify({ payload: [{ __crdb__: { key: ["a"], topic: "t", updated: "2.0000000000" }, id: "a", resolved: true }], length: 1 }));
  assert.equal(resolved, null);
  assert.deepEqual(rows[0]!.after, { id: "a", resolved: true });
});
