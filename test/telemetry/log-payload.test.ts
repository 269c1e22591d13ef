import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { z } from "zod";
import { defineApp } from "../../src/commands/define-app.js";
import { defineCommand } from "../../src/commands/define-command.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { elideValues, loggableError } from "../../src/telemetry/log-error.js";
import { createHarness, type Harness } from "../kit/harness.js";

/**
 * README "Observability": logs carry ids, never payloads. A failing command's
 * error text can quote its payload (a handler's own message, the driver's
 * "invalid input syntax … \"value\"", zod issues' input, JSON.parse's snippet):
 * none of it may reach a log line, at any level.
 */

const input = z.strictObject({ secret: z.string() });
const failing = {
  /** A handler's own error, quoting the input. */
  boom: async (s: string) => {
    throw new Error(`no account ${s}`);
  },
  /** The database's error quotes the value it could not cast. */
  bad_cast: async (s: string, tx: any) => {
    await sql`SELECT ${s}::INT AS n`.execute(tx);
  },
  /** A built-in error whose message carries a snippet of the text. */
  bad_parse: async (s: string) => {
    JSON.parse(`{"x": ${s}`);
  },
};
const commands = [
  ...Object.entries(failing).map(([name, fn]) =>
    defineCommand({
      name,
      input,
      async handle(ctx, i) {
        await fn(i.secret, ctx.tx);
        return { result: {} };
      },
    }),
  ),
  // An event that does not match its schema: the zod issues hold the value.
  defineCommand({
    name: "bad_event",
    input,
    events: { happened: z.object({ n: z.number() }) },
    async handle(_ctx, i) {
      return { result: {}, events: [{ name: "happened" as const, data: { n: i.secret as unknown as number } }] };
    },
  }),
];
const app = defineApp({ domain: "logs", commands });

let h: Harness;
const lines: string[] = [];
before(async () => {
  h = await createHarness({ app });
  const logger = createLogger({ level: "trace", destination: { write: (s: string) => void lines.push(s) } });
  await h.startWorker({ logger });
});
after(() => h?.close());

test("elideValues takes quoted strings and numbers out of a message", () => {
  assert.equal(elideValues('invalid input syntax for type integer: "alice-42"'), 'invalid input syntax for type integer: "…"');
  assert.equal(elideValues("Unexpected token 'x', \"{\"a\": x\" is not valid JSON at 12"), "Unexpected token \"…\", \"…\" is not valid JSON at …");
  assert.equal(elideValues("x".repeat(500)).length, 201);
  const plain = loggableError(new Error("no account alice", { cause: new TypeError("bad 'alice' 7") }));
  assert.equal(plain.message, undefined, "a plain Error's text is the handler's, not logged");
  assert.equal(plain.cause?.message, "bad \"…\" …");
});

test("every log line of failing commands leaves their payloads out, and `command failed` says what failed", async () => {
  for (const name of [...Object.keys(failing), "bad_event"]) {
    const secret = `s3cr3t-${randomUUID()}`;
    const reply = await h.send(name, { secret });
    assert.equal(reply.body.status, "error");
    assert.equal((reply.body as { error: { code: string } }).error.code, "internal", name);
    const commandLines = lines.filter((l) => l.includes(secret) || l.includes(`"command":"${name}"`));
    const failed = commandLines.map((l) => JSON.parse(l)).filter((l) => l.msg === "command failed");
    assert.equal(failed.length, 1, `${name}: one "command failed" line`);
    assert.equal(typeof failed[0].commandId, "string");
    assert.equal(typeof failed[0].error.type, "string", `${name}: the error's class is logged`);
    for (const line of lines) assert.ok(!line.includes(secret), `${name}: no log line holds the payload: ${line}`);
    const fromFirst = lines.findIndex((l) => l.includes(`"commandId":"${failed[0].commandId}"`));
    assert.ok(fromFirst >= 0);
  }
  const byCommand = new Map(lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "command failed").map((l) => [l.command, l.error]));
  assert.equal(byCommand.get("bad_cast").code, "22P02", "the SQLSTATE is logged");
  assert.equal(byCommand.get("bad_cast").message, 'invalid input syntax for type integer: "…"');
  assert.equal(byCommand.get("bad_event").type, "InvalidEventError", JSON.stringify(byCommand.get("bad_event")));
  assert.equal(byCommand.get("bad_parse").type, "SyntaxError");
  assert.ok(lines.length >= 4, "the worker logged at all");
});
