import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { runCli, spawnCli } from "../kit/cli.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueDomain } from "../kit/names.js";
import { streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

let h: Harness;
let stream: string;
let env: Record<string, string | undefined>;
const LINE = /^(\d+) (\S+) (\S+) ([0-9a-f-]{36}) ([0-9a-f-]{36}) (\{.*\})$/;

before(async () => {
  h = await createHarness();
  stream = (await h.startWorker()).stream;
  env = { DATABASE_URL: h.database.url, HERALD_DOMAIN: undefined, HERALD_STREAM: undefined };
  await h.send("open_account", { accountId: "e_a", owner: "A", initialBalance: 10 });
  await h.send("deposit", { accountId: "e_a", amount: 5 });
  await h.send("deposit", { accountId: "e_a", amount: 6 });
  await waitFor(async () => (await streamCount(h.nc, stream)) === 3 || undefined, { what: "3 events" });
});
after(() => h.close());

test("events prints the stream's events one per line and stops at its end", async () => {
  const r = await runCli(["events", "--domain", h.domain], { env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n").map((l) => LINE.exec(l));
  assert.equal(lines.length, 3);
  assert.ok(lines.every(Boolean), r.stdout);
  assert.deepEqual(lines.map((m) => m![3]), [`${h.domain}.evt.account_opened`, `${h.domain}.evt.deposited`, `${h.domain}.evt.deposited`]);
  assert.deepEqual(lines.map((m) => Number(m![1])), [1, 2, 3]);
  assert.deepEqual(JSON.parse(lines[2]![6]!), { accountId: "e_a", amount: 6, balance: 21 });
  const stored = await h.database.db.selectFrom("herald_outbox").select(["id", "command_id"]).where("stream_seq", "=", 1).executeTakeFirstOrThrow();
  assert.equal(lines[0]![4], stored.id);
  assert.equal(lines[0]![5], stored.command_id);
  assert.match(r.stderr, new RegExp(`3 event\\(s\\) from ${stream}`));

  const filtered = await runCli(["events", "--domain", h.domain, "--subject", "deposited", "--json"], { env });
  assert.equal(filtered.code, 0, filtered.stderr);
  const events = filtered.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.seq), [2, 3]);
  assert.ok(events.every((e) => e.subject === `${h.domain}.evt.deposited` && e.headers["ce-id"] === e.id && e.type === `${h.domain}.deposited`));
});

test("events --follow prints new events as they are confirmed, until SIGTERM", async () => {
  const follower = spawnCli(["events", "--domain", h.domain, "--subject", `${h.domain}.evt.*`, "--follow"], { env });
  try {
    await follower.waitForLine(/^3 /);
    const reply = await h.send("deposit", { accountId: "e_a", amount: 1 });
    const id = reply.body.events[0].id as string;
    const line = await follower.waitForLine(new RegExp(id));
    assert.match(line, new RegExp(`^4 \\S+ ${h.domain}\\.evt\\.deposited ${id} ${reply.body.commandId} `));
  } finally {
    follower.child.kill("SIGTERM");
  }
  assert.equal(await follower.stopped(10_000), 0, follower.stderr());
});

test("events refuses a missing stream or domain with one line", async () => {
  const missing = uniqueDomain("none");
  const cases: Array<[string[], number, RegExp]> = [
    [["events", "--domain", missing], 1, new RegExp(`stream "${missing.toUpperCase()}_EVENTS" does not exist`)],
    [["events", "--domain", h.domain, "--subject", "a.>.b"], 2, /subject "a\.>\.b" is not a valid subject filter/],
  ];
  for (const [args, code, message] of cases) {
    const r = await runCli(args, { env });
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  }
});

test("outbox reports the backlog and exits 3 when its oldest event is older than the threshold", async () => {
  const healthy = await runCli(["outbox", "--domain", h.domain], { env });
  assert.equal(healthy.code, 0, healthy.stderr);
  assert.match(healthy.stdout, new RegExp(`^${h.domain}: 0 pending event\\(s\\), oldest 0 ms \\(threshold 60000 ms\\)$`, "m"));

  // No worker, no relay: an event left unpublished for ten minutes.
  await Promise.all(h.workers.map((w) => w.stop()));
  const { id } = await h.database.db.selectFrom("herald_outbox").select("id").where("stream_seq", "=", 2).executeTakeFirstOrThrow();
  await sql`UPDATE herald_outbox SET published_at = NULL, stream_seq = NULL, created_at = now() - INTERVAL '10 minutes' WHERE id = ${id}`.execute(h.database.db);

  const stale = await runCli(["outbox", "--domain", h.domain], { env });
  assert.equal(stale.code, 3, stale.stderr);
  assert.match(stale.stdout, new RegExp(`^${h.domain}: 1 pending event\\(s\\), oldest 6\\d{5} ms`, "m"));
  assert.match(stale.stdout, new RegExp(`^  \\S+ ${h.domain}\\.evt\\.deposited ce-id=${id} `, "m"));
  assert.match(stale.stderr, /^herald outbox: the oldest unpublished event of \S+ is 6\d{5} ms old \(threshold 60000 ms\)$/m);

  const lenient = await runCli(["outbox", "--domain", h.domain, "--max-age-ms", "3600000", "--json"], { env });
  assert.equal(lenient.code, 0, lenient.stderr);
  const status = JSON.parse(lenient.stdout);
  assert.equal(status.pending, 1);
  assert.equal(status.stale, false);
  assert.equal(status.events[0].id, id);

  const viaEnv = await runCli(["outbox", "--max-age-ms", "1000"], { env: { ...env, HERALD_DOMAIN: h.domain } });
  assert.equal(viaEnv.code, 3);

  for (const [args, message] of [
    [["outbox", "--domain", h.domain, "--max-age-ms", "soon"], /--max-age-ms "soon"/],
  ] as const) {
    const r = await runCli([...args], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});
