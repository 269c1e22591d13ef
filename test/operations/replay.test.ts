import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { sql } from "kysely";
import { consume } from "../../src/consumer/index.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { runCli } from "../kit/cli.js";
import { durableSettled } from "../kit/durable.js";
import { createHarness, type Harness, type RawReply } from "../kit/harness.js";
import { readStream, streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

let h: Harness;
let stream: string;
let env: Record<string, string>;
const prefix = `rp${randomBytes(4).toString("hex")}`;
const replayStream = prefix.toUpperCase();
let since: Date;
let until: Date;

/** Runs a phase of commands and returns a time after every commit of it, which no later commit precedes. */
async function phase(run: () => Promise<RawReply[]>): Promise<Date> {
  const replies = await run();
  const last = Math.max(...replies.map((r) => new Date(r.body.committedAt as string).getTime()));
  const mark = new Date(Math.max(last + 1, Date.now()));
  // The next phase's commits must come strictly later.
  await waitFor(() => Date.now() > mark.getTime() || undefined, { what: "the clock to pass the mark" });
  return mark;
}

before(async () => {
  h = await createHarness();
  stream = (await h.startWorker()).stream;
  env = { DATABASE_URL: h.database.url };
  await sql`CREATE TABLE projection (event_id UUID NOT NULL, account TEXT NOT NULL)`.execute(h.database.db);
  since = await phase(() => Promise.all(["a", "b"].map((id) => h.send("open_account", { accountId: id, owner: id, initialBalance: 100 }))));
  // Phase 2, the range replayed: a transfer emits one event, deposits one each, in several commands.
  until = await phase(async () => [
    await h.send("deposit", { accountId: "a", amount: 5 }),
    await h.send("transfer", { from: "a", to: "b", amount: 7 }),
    await h.send("open_account", { accountId: "c", owner: "c" }),
    await h.send("deposit", { accountId: "c", amount: 9 }),
  ]);
  await h.send("deposit", { accountId: "b", amount: 1 });
  await waitFor(async () => (await streamCount(h.nc, stream)) === 7 || undefined, { what: "7 events" });
  await ensureStream(await jetstreamManager(h.nc), { name: replayStream, subjects: [`${prefix}.>`] });
});
after(async () => {
  await (await jetstreamManager(h.nc)).streams.delete(replayStream).catch(() => undefined);
  await h.close();
});

/** The stored events committed in [since, until), in commit order. */
async function expectedRange() {
  const { rows } = await sql<{ id: string; subject: string; command_id: string; data: unknown }>`
    SELECT o.id, o.subject, o.command_id, o.data FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id
     WHERE o.domain = ${h.domain} AND c.committed_at >= ${since} AND c.committed_at < ${until}
     ORDER BY c.committed_at, o.command_id, o.position`.execute(h.database.db);
  return rows;
}

test("replay of a time range re-publishes exactly its stored events, in commit order, to another subject tree", async () => {
  const expected = await expectedRange();
  assert.equal(expected.length, 4);
  const dry = await runCli(["replay", "--domain", h.domain, "--since", since.toISOString(), "--until", until.toISOString(), "--to-subject-prefix", prefix, "--dry-run"], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.stdout.trim().split("\n").length, 5);
  assert.match(dry.stdout, /would replay 4 event\(s\)/);
  assert.equal(await streamCount(h.nc, replayStream), 0, "a dry run publishes nothing");

  const r = await runCli(["replay", "--domain", h.domain, "--since", since.toISOString(), "--until", until.toISOString(), "--to-subject-prefix", prefix], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /replayed 4 event\(s\) .*: 4 published, 0 dropped as duplicates/);
  assert.match(r.stderr, /replayed 4\/4/);

  const copies = await readStream(h.nc, replayStream);
  assert.deepEqual(copies.map((m) => m.headers["ce-id"]), expected.map((e) => e.id), "exactly the range, in commit order");
  for (const [i, m] of copies.entries()) {
    const e = expected[i]!;
    assert.equal(m.subject, `${prefix}.${e.subject}`);
    assert.equal(m.headers["herald-replayed-from"], e.subject);
    assert.equal(m.headers["ce-commandid"], e.command_id);
    assert.equal(m.headers["ce-source"], `herald/${h.domain}`);
    assert.equal(m.headers["Nats-Msg-Id"], undefined, "re-targeted copies carry no Nats-Msg-Id");
    assert.deepEqual(m.data, e.data);
  }
});

test("a consumer with an inbox applies the replayed copies of events it already applied not a second time", async () => {
  const durable = "projection";
  const apply = async (event: { id: string; data: unknown }, ctx: { tx: any }) => {
    await sql`INSERT INTO projection (event_id, account) VALUES (${event.id}::UUID, ${JSON.stringify(event.data)})`.execute(ctx.tx);
  };
  const live = await consume({ nc: h.nc, db: h.database.db, domain: h.domain, durable, handle: apply });
  await waitFor(async () => (await durableSettled(h.nc, stream, durable)) || undefined, { what: "live events applied" });
  await live.stop();
  assert.equal(live.stats.processed, 7);

  // Same consumer name (same inbox), reading the replayed tree.
  const replayed = await consume({ nc: h.nc, db: h.database.db, domain: h.domain, durable, stream: replayStream, filter: `${prefix}.>`, handle: apply });
  await waitFor(async () => (await durableSettled(h.nc, replayStream, durable)) || undefined, { what: "replayed events seen" });
  await replayed.stop();
  assert.deepEqual(replayed.stats, { processed: 0, duplicates: 4, retried: 0, deadLettered: 0 });
  const { rows } = await sql<{ n: number }>`SELECT count(*)::INT AS n FROM projection`.execute(h.database.db);
  assert.equal(rows[0]!.n, 7);
});

test("replay into the same stream inside the duplicate window is dropped by JetStream", async () => {
  const before = await streamCount(h.nc, stream);
  const r = await runCli(["replay", "--domain", h.domain, "--subject", "deposited", "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.deepEqual({ total: report.total, published: report.published, duplicates: report.duplicates }, { total: 3, published: 0, duplicates: 3 });
  assert.match(r.stderr, /duplicate window/);
  assert.equal(await streamCount(h.nc, stream), before);
});

test("replay refuses bad input with one line and a non-zero exit", async () => {
  const cases: Array<[string[], number, RegExp]> = [
    [["replay", "--domain", h.domain, "--since", "last tuesday"], 2, /--since "last tuesday" is not a time/],
    [["replay", "--domain", h.domain, "--since", "2024-13-45T99:00:00Z"], 2, /is not a time/],
    [["replay", "--domain", h.domain, "--since", "1h", "--until", "2h"], 2, /must be before --until/],
    [["replay", "--domain", h.domain, "--to-subject-prefix", "a.*"], 2, /subject prefix "a\.\*"/],
    [["replay", "--domain", h.domain, "--bogus"], 2, /Unknown option '--bogus'/],
    [["replay", "--domain", "Not-A-Domain"], 2, /domain "Not-A-Domain"/],
    [["replay", "--domain", h.domain, "--since", "2001-01-01", "--until", "2001-01-02"], 1, /no stored events of domain .* from 2001-01-01T00:00:00.000Z until 2001-01-02/],
    [["replay", "--domain", h.domain, "--to-subject-prefix", `nostream${prefix}`, "--subject", "transferred"], 1, /no JetStream stream captures nostream/],
  ];
  for (const [args, code, message] of cases) {
    const r = await runCli(args, { env });
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
