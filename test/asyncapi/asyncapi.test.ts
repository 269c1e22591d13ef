import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DiagnosticSeverity, Parser } from "@asyncapi/parser";
import { z } from "zod";
import { bankApp } from "../../examples/bank/index.js";
import { ordersApp } from "../../examples/orders/index.js";
import { buildAsyncApiDocument } from "../../src/asyncapi/document.js";
import { SchemaExportError } from "../../src/asyncapi/payload-schema.js";
import { renderDocument } from "../../src/asyncapi/render.js";
import { defineApp, type HeraldApp } from "../../src/commands/define-app.js";
import { defineCommand } from "../../src/commands/define-command.js";
import { ERROR_STATUS } from "../../src/errors.js";
import { runCli, ROOT, type CliResult } from "../kit/cli.js";

/** The NATS URL the committed documents are generated with (the configuration's default). */
const DOCS_NATS_URL = "nats://127.0.0.1:4222";
const parser = new Parser();
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "herald-asyncapi-"));
});
after(() => rm(dir, { recursive: true, force: true }));

/** The command's payload as zod itself turns it into JSON Schema, without the dialect line. */
function zodJson(schema: z.ZodType, io: "input" | "output"): unknown {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io }) as Record<string, unknown>;
  return rest;
}

/** A parsed schema's JSON without the parser's own `x-parser-*` annotations. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith("x-parser-")).map(([k, v]) => [k, plain(v)]));
}

async function parsed(app: HeraldApp) {
  const document = buildAsyncApiDocument({ app, natsUrl: DOCS_NATS_URL });
  const { document: model, diagnostics } = await parser.parse(document as never);
  // Not even warnings: only notes such as "a newer AsyncAPI version exists".
  const problems = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning);
  assert.deepEqual(problems.map((d) => `${d.path.join("/")}: ${d.message}`), [], `${app.domain}: no error or warning diagnostics`);
  assert.ok(model, `${app.domain}: parsed`);
  return { document, model };
}

for (const app of [bankApp, ordersApp]) {
  test(`${app.domain}: the AsyncAPI parser accepts the document, which holds every command, event and error code`, async () => {
    const { document, model } = await parsed(app);
    assert.equal(model.version(), "3.0.0");
    const commands = app.commands.map((c) => `${app.domain}.cmd.${c.name}`);
    const events = [...new Set(app.commands.flatMap((c) => Object.keys(c.events)))].map((e) => `${app.domain}.evt.${e}`);
    const addresses = model.channels().all().map((c) => c.address()).filter((a): a is string => a !== null && a !== undefined);
    assert.deepEqual(addresses.sort(), [...commands, ...events].sort());

    for (const command of app.commands) {
      const op = model.operations().get(`send_${command.name}`);
      assert.ok(op, `operation for ${command.name}`);
      assert.ok(op.isSend());
      assert.equal(op.channels().all()[0]?.address(), `${app.domain}.cmd.${command.name}`);
      const request = op.messages().all()[0]!;
      assert.deepEqual(plain(request.payload()!.json()), zodJson(command.input, "input"), `${command.name} payload is its zod schema`);
      assert.deepEqual(request.headers()!.required(), ["Idempotency-Key"]);
      const replies = op.reply()!.messages().all().map((m) => m.payload()!.json() as { properties: { status: { const: string } } });
      assert.deepEqual(replies.map((r) => r.properties.status.const), ["committed", "rejected", "error"]);
      assert.deepEqual(op.security().map((s) => s.all().map((r) => r.scheme().type())), [["userPassword"]]);
    }

    for (const subject of events) {
      const name = subject.split(".")[2]!;
      const op = model.operations().get(`receive_${name}`)!;
      assert.ok(op.isReceive());
      const message = op.messages().all()[0]!;
      const schema = app.commands.find((c) => name in c.events)!.events[name] as z.ZodType;
      assert.deepEqual(plain(message.payload()!.json()), zodJson(schema, "output"), `${name} payload is its zod schema`);
      const headers = message.headers()!.json() as { required: string[]; properties: Record<string, { const?: string }> };
      for (const h of ["ce-specversion", "ce-id", "ce-type", "ce-source", "ce-time", "ce-commandid", "ce-idempotencykey", "Nats-Msg-Id"]) {
        assert.ok(headers.required.includes(h), `${name} requires ${h}`);
      }
      assert.equal(headers.properties["ce-type"]!.const, `${app.domain}.${name}`);
    }

    // The error reply's codes and statuses are exactly ERROR_STATUS.
    const errorPayload = model.components().messages().get("error_reply")!.payload()!.json() as any;
    assert.deepEqual(plain(errorPayload.properties.error.properties.code["x-herald-status"]), ERROR_STATUS);
    assert.deepEqual(errorPayload.properties.error.properties.code.enum, Object.keys(ERROR_STATUS));
    const errorHeaders = model.components().messages().get("error_reply")!.headers()!.json() as any;
    assert.deepEqual(new Set(errorHeaders.properties["Nats-Service-Error-Code"].enum), new Set(Object.values(ERROR_STATUS).map(String)));

    // Security: the roles of `herald permissions`, with their subjects.
    const schemes = (document.components as any).securitySchemes;
    assert.deepEqual(Object.keys(schemes), ["worker", "client", "consumer_reader"]);
    assert.equal(schemes.client["x-herald-user"], `herald_${app.domain}_client`);
    assert.deepEqual(schemes.client["x-herald-permissions"].publish, [`${app.domain}.cmd.>`, `$JS.API.CONSUMER.INFO.${app.domain.toUpperCase()}_EVENTS.*`, `${app.domain}.applied.*`]);
    assert.ok(schemes.worker["x-herald-permissions"].publish.includes(`${app.domain}.evt.>`));
    assert.deepEqual(model.servers().all().map((s) => [s.host(), s.protocol()]), [["127.0.0.1:4222", "nats"]]);
  });

  test(`${app.domain}: docs/asyncapi/${app.domain}.yaml is what the generator writes now`, async () => {
    const committed = await readFile(join(ROOT, "docs", "asyncapi", `${app.domain}.yaml`), "utf8");
    const fresh = renderDocument(buildAsyncApiDocument({ app, natsUrl: DOCS_NATS_URL }), "yaml");
    assert.ok(committed === fresh, `docs/asyncapi/${app.domain}.yaml is stale: regenerate it with \`herald asyncapi\` (see docs/asyncapi/README.md)`);
  });
}

test("the parser's checks bite: a broken operation is an error diagnostic", async () => {
  const document = buildAsyncApiDocument({ app: bankApp, natsUrl: DOCS_NATS_URL }) as any;
  document.operations.send_deposit.action = "publish";
  const diagnostics = await parser.validate(document);
  assert.ok(diagnostics.some((d) => d.severity === DiagnosticSeverity.Error), "an error diagnostic");
});

test("a schema JSON Schema cannot express is a clear error naming its command", () => {
  const app = defineApp({
    domain: "dated",
    commands: [defineCommand({ name: "book", input: z.strictObject({ at: z.date() }), handle: async () => ({ result: null }) })],
  });
  assert.throws(
    () => buildAsyncApiDocument({ app, natsUrl: DOCS_NATS_URL }),
    (err: unknown) => err instanceof SchemaExportError && /the schema of dated\.cmd\.book \(input\) cannot be expressed in JSON Schema \(Date/.test(err.message),
  );
});

/** Exit `code` and one stderr line matching `pattern`. */
function assertOneLine(r: CliResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, /^herald asyncapi: /);
  assert.match(lines[0]!, pattern);
}

test("herald asyncapi writes JSON by extension, keeps credentials out, and refuses bad input writing nothing", async () => {
  const out = join(dir, "orders.json");
  const env = { NATS_URL: "nats://alice:s3cret-pw@nats.example:4222", HERALD_STREAM: undefined };
  const ok = await runCli(["asyncapi", "--app", "dist/examples/orders/index.js", "--out", out], { env });
  assert.equal(ok.code, 0, ok.stderr);
  const text = await readFile(out, "utf8");
  assert.doesNotMatch(text, /s3cret|alice/);
  const written = JSON.parse(text);
  assert.deepEqual(written.servers.nats.host, "nats.example:4222");
  assert.deepEqual(Object.keys(written.channels).sort(), Object.keys(buildAsyncApiDocument({ app: ordersApp, natsUrl: DOCS_NATS_URL }).channels as object).sort());

  const missing = join(dir, "no-such-dir", "bank.yaml");
  const cases: Array<[string[], number, RegExp, string]> = [
    [["asyncapi", "--domain", "orders", "--out", join(dir, "a.yaml")], 2, /unknown domain "orders": the loaded app serves bank \(choose with --app\)/, join(dir, "a.yaml")],
    [["asyncapi", "--app", "dist/examples/orders/index.js", "--app", "dist/examples/bank/index.js", "--out", join(dir, "b.yaml")], 2, /--domain is required: the apps serve several domains \(orders, bank\)/, join(dir, "b.yaml")],
    [["asyncapi", "--out", join(dir, "bank.txt")], 2, /--out ".*bank\.txt" must end in \.yaml, \.yml or \.json/, join(dir, "bank.txt")],
    [["asyncapi", "--out", missing], 1, /cannot write .*no-such-dir.*ENOENT/, missing],
  ];
  for (const [args, code, pattern, path] of cases) {
    assertOneLine(await runCli(args, { env }), code, pattern);
    assert.ok(!existsSync(path), `${path} not written`);
  }
});
