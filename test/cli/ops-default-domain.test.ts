import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { runCli, type CliResult } from "../kit/cli.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";
import { streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

// The operations commands without --domain or HERALD_DOMAIN: the database's only
// domain, or a usage error that says why (none yet, or several, listed).

let h: Harness;
let stream: string;
let env: Record<string, string | undefined>;
let key: string;

before(async () => {
  h = await createHarness();
  stream = (await h.startWorker()).stream;
  env = { DATABASE_URL: h.database.url, HERALD_DOMAIN: undefined, HERALD_STREAM: undefined };
});
after(() => h.close());

/** Exit 2 and one stderr line matching `pattern`, no stack trace. */
function assertUsageError(r: CliResult, command: string, pattern: RegExp): void {
  assert.equal(r.code, 2, `${command}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^herald ${command}: `));
  assert.match(lines[0]!, pattern);
}

const OPS = [["outbox"], ["events"], ["replay", "--dry-run"]] as const;

test("no commands in the database yet, or no database: an error that says so", async () => {
  // One command is enough here: all of them resolve the domain through one function.
  assertUsageError(await runCli(["events"], { env }), "events", /--domain is required: the database holds no commands of any domain yet \(or set HERALD_DOMAIN\)/);
  // A database that cannot be reached says which way out there is.
  const unreachable = await runCli(["outbox"], { env: { ...env, DATABASE_URL: "postgresql://postgres@127.0.0.1:1/none" } });
  assert.equal(unreachable.code, 1, unreachable.stderr);
  assert.match(unreachable.stderr, /^herald outbox: no --domain given, and the database could not be asked for its domains \(pass --domain or set HERALD_DOMAIN\): .*ECONNREFUSED/);
});

test("one domain: outbox, events, replay and trace default to it", async () => {
  key = uniqueKey("only");
  assert.equal((await h.send("open_account", { accountId: "d_a", owner: "A", initialBalance: 3 }, { key })).body.status, "committed");
  await waitFor(async () => (await streamCount(h.nc, stream)) === 1 || undefined, { what: "1 event" });

  const outbox = await runCli(["outbox", "--json"], { env });
  assert.equal(outbox.code, 0, outbox.stderr);
  assert.equal(JSON.parse(outbox.stdout).domain, h.domain);

  const events = await runCli(["events", "--json"], { env });
  assert.equal(events.code, 0, events.stderr);
  const lines = events.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].subject, `${h.domain}.evt.account_opened`);

  const replay = await runCli(["replay", "--dry-run"], { env });
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, new RegExp(`^would replay 1 event\\(s\\) of ${h.domain} to the original subjects$`, "m"));

  const trace = await runCli(["trace", key, "--json"], { env });
  assert.equal(trace.code, 0, trace.stderr);
  assert.equal(JSON.parse(trace.stdout).domain, h.domain);
});

test("several domains: the error lists them; HERALD_DOMAIN still chooses", async () => {
  const other = uniqueDomain("aaa");
  const now = new Date();
  await h.database.db
    .insertInto("herald_commands")
    .values({
      id: randomUUID(),
      domain: other,
      idempotency_key: key,
      subject: `${other}.cmd.noop`,
      command: "noop",
      payload: JSON.stringify({}),
      payload_hash: "x",
      status: "rejected",
      reply: JSON.stringify({ status: "rejected" }),
      received_at: now,
      committed_at: now,
      expires_at: new Date(now.getTime() + 3_600_000),
    })
    .execute();
  const listed = [h.domain, other].sort().join(", ");
  const several = new RegExp(`--domain is required: the database holds several domains \\(${listed}\\); pass --domain <name> or set HERALD_DOMAIN`);
  for (const args of OPS) assertUsageError(await runCli([...args], { env }), args[0], several);

  // The key is used in both domains now: trace names them too.
  assertUsageError(await runCli(["trace", key], { env }), "trace", new RegExp(`used in several domains \\(${listed}\\): pass --domain`));

  const viaEnv = await runCli(["replay", "--dry-run"], { env: { ...env, HERALD_DOMAIN: other } });
  assert.equal(viaEnv.code, 1, viaEnv.stderr);
  assert.match(viaEnv.stderr, new RegExp(`no stored events of domain ${other}`));
});
