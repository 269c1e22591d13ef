import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { z } from "zod";
import { payloadSchema } from "../../src/asyncapi/payload-schema.js";
import { checkInput } from "../../src/commands/check-input.js";
import { defineApp } from "../../src/commands/define-app.js";
import { defineCommand } from "../../src/commands/define-command.js";
import { CommandRequestError, createClient } from "../../src/index.js";
import { createHarness, type Harness } from "../kit/harness.js";

/**
 * docs/protocol.md §2 "Body": unknown fields are rejected (`invalid_command`),
 * never silently dropped, whatever object mode the app's schema uses. zod's
 * plain `z.object` strips unknown keys, so a misspelled optional field would
 * otherwise commit as if it were absent.
 */

const line = z.object({ sku: z.string(), note: z.string().optional() });
const note = defineCommand({
  name: "note",
  // Plain z.object everywhere, as an app may well write it; one loose object, whose extra keys are kept.
  input: z.object({ id: z.string(), memo: z.string().optional(), lines: z.array(line).optional(), extra: z.looseObject({ a: z.number() }).optional() }),
  events: { noted: z.object({ id: z.string(), memo: z.string().nullable() }) },
  async handle(_ctx, input) {
    return { result: { id: input.id, memo: input.memo ?? null }, events: [{ name: "noted", data: { id: input.id, memo: input.memo ?? null } }] };
  },
});
const app = defineApp({ domain: "notes", commands: [note] });

let h: Harness;
before(async () => {
  h = await createHarness({ app });
  await h.startWorker();
});
after(() => h?.close());

const stored = async () => Number((await sql<{ n: number }>`SELECT count(*) AS n FROM herald_commands`.execute(h.database.db)).rows[0]!.n);

test("checkInput refuses keys a z.object would strip, at any depth, and keeps loose objects' extra keys", () => {
  const schema = note.input;
  assert.deepEqual(checkInput(schema, { id: "a", memo: "m" }), { ok: true, data: { id: "a", memo: "m" } });
  assert.deepEqual(checkInput(schema, { id: "a", meme: "m" }), {
    ok: false,
    issues: [{ path: [], code: "unrecognized_keys", message: 'Unrecognized key: "meme"' }],
  });
  assert.deepEqual(checkInput(schema, { id: "a", lines: [{ sku: "s" }, { sku: "t", nots: "x", y: 1 }] }), {
    ok: false,
    issues: [{ path: ["lines", 1], code: "unrecognized_keys", message: 'Unrecognized keys: "nots", "y"' }],
  });
  assert.deepEqual(checkInput(schema, { id: "a", extra: { a: 1, b: 2 } }), { ok: true, data: { id: "a", extra: { a: 1, b: 2 } } });
  // A prototype key in the JSON text is an own property, and unknown like any other.
  assert.equal(checkInput(schema, JSON.parse('{"id":"a","__proto__":{"memo":"x"}}')).ok, false);
  // Schema errors come first, as zod reports them.
  const bad = checkInput(schema, { id: 1, meme: "m" });
  assert.ok(!bad.ok && bad.issues.some((i) => i.code === "invalid_type"));
});

test("the AsyncAPI payload of a z.object input is closed too, as the worker treats it; loose objects stay open", () => {
  const json = payloadSchema(note.input, "notes.cmd.note (input)", "input") as any;
  assert.equal(json.additionalProperties, false);
  assert.equal(json.properties.lines.items.additionalProperties, false);
  assert.deepEqual(json.properties.extra.additionalProperties, {});
});

test("a worker answers 400 invalid_command for a misspelled optional field and stores nothing", async () => {
  const before = await stored();
  const reply = await h.send("note", { id: "n1", meme: "typo" });
  assert.equal(reply.body.status, "error");
  const error = (reply.body as { error: { code: string; details: unknown } }).error;
  assert.equal(error.code, "invalid_command");
  assert.equal(reply.errorCode, "400");
  assert.deepEqual(error.details, [{ path: [], code: "unrecognized_keys", message: 'Unrecognized key: "meme"' }]);
  const nested = await h.send("note", { id: "n1", lines: [{ sku: "s", qty: 2 }] });
  assert.deepEqual((nested.body as { error: { details: unknown } }).error.details, [{ path: ["lines", 0], code: "unrecognized_keys", message: 'Unrecognized key: "qty"' }]);
  assert.equal(await stored(), before, "nothing stored, no key reserved");

  const ok = await h.send("note", { id: "n1", memo: "spelled right", extra: { a: 1, kept: true } });
  assert.equal(ok.body.status, "committed");
  assert.deepEqual((ok.body as { result: unknown }).result, { id: "n1", memo: "spelled right" });
});

test("the client refuses the same input before sending, with the worker's details", async () => {
  const client = createClient(h.nc, { domain: h.domain });
  const local = await client.send(note, { id: "n2", meme: "typo" } as never).catch((e: unknown) => e);
  const remote = await client.sendRaw("note", { id: "n2", meme: "typo" }).catch((e: unknown) => e);
  assert.ok(local instanceof CommandRequestError && remote instanceof CommandRequestError);
  assert.equal(local.code, "invalid_command");
  assert.equal(local.attempts, 0, "nothing was sent");
  assert.deepEqual(local.details, remote.details);
});
