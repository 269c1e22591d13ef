import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runCli, type CliResult } from "../kit/cli.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { freePort } from "../kit/nats-server.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";

let h: Harness;
let dir: string;

before(async () => {
  h = await createHarness();
  await h.startWorker();
  assert.equal((await h.send("open_account", { accountId: "alice", owner: "Alice", initialBalance: 100 })).body.status, "committed");
  assert.equal((await h.send("open_account", { accountId: "bob", owner: "Bob" })).body.status, "committed");
  dir = await mkdtemp(join(tmpdir(), "herald-send-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await h.close();
});

const send = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) => runCli(["send", ...args], options);
const subject = (command: string) => `${h.domain}.cmd.${command}`;

/** Exactly one line on stderr, prefixed with the command, and no stack trace. */
function assertOneLine(result: CliResult, pattern: RegExp): void {
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one stderr line, got: ${result.stderr}`);
  assert.match(lines[0]!, /^herald send: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
}

const balance = async (id: string) =>
  (await h.database.db.selectFrom("bank_accounts").select("balance").where("id", "=", id).executeTakeFirstOrThrow()).balance as number;

test("committed: exit 0, a readable reply, and --json with --key replays it", async () => {
  const plain = await send([subject("deposit"), '{"accountId":"bob","amount":5}']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^committed \(command [0-9a-f-]{36}, key [0-9a-f-]{36}\) at \S+Z$/m);
  assert.match(plain.stdout, /^result: \{"accountId":"bob","balance":5\}$/m);
  assert.match(plain.stdout, new RegExp(`^event: ${h.domain}\\.evt\\.deposited [0-9a-f-]{36}$`, "m"));
  assert.equal(plain.stderr, "");

  const key = uniqueKey("cli");
  const first = await send([subject("deposit"), '{"accountId":"bob","amount":1}', "--key", key, "--json"]);
  assert.equal(first.code, 0, first.stderr);
  const reply = JSON.parse(first.stdout);
  assert.equal(reply.status, "committed");
  assert.equal(reply.idempotencyKey, key);
  assert.equal(reply.duplicate, false);
  assert.deepEqual(reply.result, { accountId: "bob", balance: 6 });
  assert.equal(first.stdout.trim().split("\n").length, 1, "one line of JSON");

  const again = await send([subject("deposit"), '{ "amount": 1, "accountId": "bob" }', "--key", key, "--json", "--timeout", "5000"]);
  assert.equal(again.code, 0);
  const replay = JSON.parse(again.stdout);
  assert.equal(replay.duplicate, true);
  assert.equal(replay.commandId, reply.commandId);
  assert.equal(await balance("bob"), 6, "the replay moved nothing");
});

test("rejected: exit 2 with the business error", async () => {
  const plain = await send([subject("transfer"), '{"from":"bob","to":"alice","amount":1000000}']);
  assert.equal(plain.code, 2, plain.stderr);
  assert.match(plain.stdout, /^rejected: insufficient_funds: .+ \(command [0-9a-f-]{36}, key /);
  const json = await send([subject("deposit"), '{"accountId":"nobody","amount":1}', "--json"]);
  assert.equal(json.code, 2);
  const reply = JSON.parse(json.stdout);
  assert.equal(reply.status, "rejected");
  assert.equal(reply.error.code, "account_not_found");
});

test("error replies: exit 1, one line with the code and the schema problems; --json prints the error reply", async () => {
  const invalid = await send([subject("deposit"), '{"accountId":"bob","amount":0,"memo":"x"}']);
  assert.equal(invalid.code, 1);
  assertOneLine(invalid, /invalid_command \(400\): invalid deposit command; amount: .+; \(body\): Unrecognized key/);
  assert.equal(invalid.stdout, "");

  const json = await send([subject("transfer"), '{"from":"bob","to":"bob","amount":1}', "--json"]);
  assert.equal(json.code, 1);
  const reply = JSON.parse(json.stdout);
  assert.equal(reply.status, "error");
  assert.equal(reply.error.code, "invalid_command");
  assert.deepEqual(reply.error.details.map((d: { path: unknown }) => d.path), [["to"]]);

  const key = uniqueKey("reuse");
  assert.equal((await send([subject("deposit"), '{"accountId":"alice","amount":1}', "--key", key])).code, 0);
  const reused = await send([subject("deposit"), '{"accountId":"alice","amount":2}', "--key", key]);
  assert.equal(reused.code, 1);
  assertOneLine(reused, /idempotency_key_reused \(409\)/);

  const unknown = await send([subject("no_such"), "{}"]);
  assert.equal(unknown.code, 1);
  assertOneLine(unknown, /unknown_command \(404\)/);

  const badKey = await send([subject("deposit"), '{"accountId":"alice","amount":1}', "--key", "not a key"]);
  assert.equal(badKey.code, 1);
  assertOneLine(badKey, /invalid_idempotency_key/);
});

test("the body can come from @file or standard input", async () => {
  const file = join(dir, "deposit.json");
  await writeFile(file, JSON.stringify({ accountId: "alice", amount: 10 }, null, 2));
  const fromFile = await send([subject("deposit"), `@${file}`, "--json"]);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(JSON.parse(fromFile.stdout).status, "committed");

  const fromStdin = await send([subject("deposit"), "-", "--json"], { input: '{"accountId":"alice","amount":20}\n' });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  const reply = JSON.parse(fromStdin.stdout);
  assert.equal(reply.result.balance, JSON.parse(fromFile.stdout).result.balance + 20);
});

test("unreadable JSON, a missing file and bad arguments: one line, nothing sent", async () => {
  const before = await balance("alice");
  const broken = await send([subject("deposit"), '{"accountId":"alice",']);
  assert.equal(broken.code, 1);
  assertOneLine(broken, /the body argument is not valid JSON/);

  const emptyStdin = await send([subject("deposit"), "-"], { input: "" });
  assert.equal(emptyStdin.code, 1);
  assertOneLine(emptyStdin, /standard input is not valid JSON \(it is empty\)/);

  const missing = await send([subject("deposit"), `@${join(dir, "nope.json")}`]);
  assert.equal(missing.code, 1);
  assertOneLine(missing, /cannot read body file .*nope\.json: ENOENT/);

  const badSubject = await send(["Bank.transfer", "{}"]);
  assert.equal(badSubject.code, 1);
  assertOneLine(badSubject, /is not <domain>\.cmd\.<command>/);

  const noBody = await send([subject("deposit")]);
  assert.equal(noBody.code, 1);
  assertOneLine(noBody, /usage: herald send/);

  const badTimeout = await send([subject("deposit"), "{}", "--timeout", "soon"]);
  assert.equal(badTimeout.code, 1);
  assertOneLine(badTimeout, /--timeout must be/);
  assert.equal(await balance("alice"), before);
});

test("no responders and unreachable NATS: one clear line, exit 1", async () => {
  const domain = uniqueDomain("none");
  const nobody = await send([`${domain}.cmd.transfer`, "{}"]);
  assert.equal(nobody.code, 1);
  assertOneLine(nobody, new RegExp(`no worker serves ${domain}\\.cmd\\.transfer \\(no responders after 5 attempt\\(s\\)\\)`));

  const port = await freePort();
  const unreachable = await send([subject("deposit"), '{"accountId":"alice","amount":1}'], { env: { NATS_URL: `nats://127.0.0.1:${port}` } });
  assert.equal(unreachable.code, 1);
  assertOneLine(unreachable, new RegExp(`cannot reach NATS at nats://127\\.0\\.0\\.1:${port}: .*(refused|ECONNREFUSED)`));
});
