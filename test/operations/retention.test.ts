import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { consume } from "../../src/consumer/index.js";
import { rowLevelTtlStatements } from "../../src/operations/row-ttl.js";
import { react } from "../../src/reactor/react.js";
import { runCli } from "../kit/cli.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueDomain } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";

// The inbox and dead letters grow with every consumed event: each has a
// retention, pruned by `herald prune` and by the consumer itself.
let h: Harness;
let env: Record<string, string | undefined>;
const otherDomain = uniqueDomain("odl");

async function inboxRow(consumer: string, ageHours: number): Promise<string> {
  const id = randomUUID();
  await sql`INSERT INTO herald_inbox (consumer, event_id, processed_at) VALUES (${consumer}, ${id}::UUID, now() - (${ageHours}::INT * INTERVAL '1 hour'))`.execute(h.database.db);
  return id;
}

async function deadLetter(consumer: string, domain: string, ageHours: number): Promise<string> {
  const id = randomUUID();
  await sql`INSERT INTO herald_dead_letters (id, consumer, domain, event_id, subject, headers, error, deliveries, created_at)
            VALUES (${id}, ${consumer}, ${domain}, ${randomUUID()}, ${`${domain}.evt.x`}, '{}', 'boom', 5, now() - (${ageHours}::INT * INTERVAL '1 hour'))`.execute(h.database.db);
  return id;
}

/** A reactor's recorded rejection, `ageHours` old; returns its idempotency key. */
async function rejection(reactor: string, ageHours: number): Promise<string> {
  const key = `${reactor}:${randomUUID()}:0`;
  await sql`INSERT INTO herald_reactor_rejections (reactor, idempotency_key, event_id, subject, code, message, created_at)
            VALUES (${reactor}, ${key}, ${randomUUID()}::UUID, 'bank.cmd.reserve_funds', 'insufficient_funds', 'no', now() - (${ageHours}::INT * INTERVAL '1 hour'))`.execute(h.database.db);
  return key;
}

const inboxIds = async () => new Set((await h.database.db.selectFrom("herald_inbox").select("event_id").execute()).map((r) => r.event_id));
const rejectionKeys = async () =>
  new Set((await h.database.db.selectFrom("herald_reactor_rejections").select("idempotency_key").execute()).map((r) => r.idempotency_key));
const deadLetterIds = async () => new Set((await h.database.db.selectFrom("herald_dead_letters").select("id").execute()).map((r) => r.id));

before(async () => {
  h = await createHarness();
  await h.startWorker({ prune: false }); // creates the domain's stream for the consumer
  env = { DATABASE_URL: h.database.url, HERALD_DOMAIN: undefined };
});
after(() => h.close());

test("herald prune deletes inbox rows and dead letters past their retention, and keeps the rest", async () => {
  const oldInbox = await inboxRow("audit", 800); // past the default 720 h
  const oldInboxOther = await inboxRow("billing", 800); // another consumer: kept by --consumer audit
  const youngInbox = await inboxRow("audit", 700);
  const oldDead = await deadLetter("audit", h.domain, 800);
  const oldDeadOther = await deadLetter("audit", otherDomain, 800); // another domain: kept by --domain
  const youngDead = await deadLetter("audit", h.domain, 1);

  const dry = await runCli(["prune", "--domain", h.domain, "--consumer", "audit", "--dry-run", "--json"], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(JSON.parse(dry.stdout), {
    events: 0, commands: 0, inbox: 1, deadLetters: 1, issuances: 0, dryRun: true, domain: h.domain, consumer: "audit",
    eventRetentionHours: 168, inboxRetentionHours: 720, deadLetterRetentionHours: 720, identityRetentionHours: 2160, operatorActions: 0, operatorActionRetentionHours: 8760,
    reactorRejections: 0,
  });
  assert.equal((await inboxIds()).size, 3, "a dry run deletes nothing");

  const r = await runCli(["prune", "--domain", h.domain, "--consumer", "audit", "--batch", "1"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1 inbox row\(s\) older than 720 h, 1 dead letter\(s\) older than 720 h, 0 identity issuance record\(s\) expired more than 2160 h ago, 0 operator action\(s\) older than 8760 h, 0 reactor rejection\(s\) older than 720 h$/m);
  let inbox = await inboxIds();
  assert.ok(!inbox.has(oldInbox) && inbox.has(oldInboxOther) && inbox.has(youngInbox));
  let dead = await deadLetterIds();
  assert.ok(!dead.has(oldDead) && dead.has(oldDeadOther) && dead.has(youngDead));

  // The settings move the cut-offs; without filters every consumer and domain is pruned.
  const all = await runCli(["prune", "--json"], { env: { ...env, HERALD_INBOX_RETENTION_HOURS: "600", HERALD_DEAD_LETTER_RETENTION_HOURS: "900" } });
  assert.equal(all.code, 0, all.stderr);
  assert.equal(JSON.parse(all.stdout).inbox, 2);
  assert.equal(JSON.parse(all.stdout).deadLetters, 0);
  inbox = await inboxIds();
  assert.ok(!inbox.has(oldInboxOther) && !inbox.has(youngInbox));
  dead = await deadLetterIds();
  assert.ok(dead.has(oldDeadOther) && dead.has(youngDead));
});

test("a consumer prunes its own inbox rows and dead letters periodically, nobody else's", async () => {
  const durable = "pruning_reader";
  const mineOld = await inboxRow(durable, 50);
  const mineYoung = await inboxRow(durable, 1);
  const theirsOld = await inboxRow("someone_else", 50);
  const deadMine = await deadLetter(durable, h.domain, 50);
  const deadTheirs = await deadLetter("someone_else", h.domain, 50);
  const consumer = await consume({
    nc: h.nc,
    db: h.database.db,
    domain: h.domain,
    durable,
    handle: () => undefined,
    prune: { intervalMs: 50, inboxRetentionHours: 24, deadLetterRetentionHours: 24 },
  });
  try {
    await waitFor(async () => (!(await inboxIds()).has(mineOld) && !(await deadLetterIds()).has(deadMine)) || undefined, {
      what: "the consumer's pruner",
    });
  } finally {
    await consumer.stop();
  }
  assert.ok((await inboxIds()).has(mineYoung));
  assert.ok((await inboxIds()).has(theirsOld));
  assert.ok((await deadLetterIds()).has(deadTheirs));
});

test("herald prune deletes reactor rejections past the dead-letter retention, and keeps the rest", async () => {
  const old = await rejection("r_pay", 800); // past the default 720 h
  const young = await rejection("r_pay", 700);
  const otherOld = await rejection("r_ship", 800); // another reactor: kept by --consumer r_pay

  const dry = await runCli(["prune", "--consumer", "r_pay", "--dry-run", "--json"], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(JSON.parse(dry.stdout).reactorRejections, 1);
  assert.equal((await rejectionKeys()).size, 3, "a dry run deletes nothing");

  const r = await runCli(["prune", "--consumer", "r_pay", "--batch", "1"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /, 1 reactor rejection\(s\) older than 720 h$/m);
  let keys = await rejectionKeys();
  assert.ok(!keys.has(old) && keys.has(young) && keys.has(otherOld));

  // HERALD_DEAD_LETTER_RETENTION_HOURS moves the cut-off; without --consumer every reactor is pruned.
  const all = await runCli(["prune", "--json"], { env: { ...env, HERALD_DEAD_LETTER_RETENTION_HOURS: "750" } });
  assert.equal(all.code, 0, all.stderr);
  assert.equal(JSON.parse(all.stdout).reactorRejections, 1);
  keys = await rejectionKeys();
  assert.ok(!keys.has(otherOld) && keys.has(young));
});

test("a reactor with a database prunes its own rejections periodically, nobody else's", async () => {
  const name = "pruning_reactor";
  const mineOld = await rejection(name, 50);
  const mineYoung = await rejection(name, 1);
  const theirsOld = await rejection("someone_else", 50);
  const reactor = await react({
    nc: h.nc,
    domain: h.domain,
    name,
    db: h.database.db,
    react: () => undefined,
    prune: { intervalMs: 50, deadLetterRetentionHours: 24 },
  });
  try {
    await waitFor(async () => !(await rejectionKeys()).has(mineOld) || undefined, { what: "the reactor's pruner" });
  } finally {
    await reactor.stop();
  }
  const keys = await rejectionKeys();
  assert.ok(keys.has(mineYoung));
  assert.ok(keys.has(theirsOld));
});

test("--print-ttl prints CockroachDB row-level TTL for every growing table, with the configured retentions", async () => {
  const r = await runCli(["prune", "--print-ttl"], { env: { ...env, DATABASE_URL: "postgresql://nobody@127.0.0.1:1/none", HERALD_INBOX_RETENTION_HOURS: "48" } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), [
    "ALTER TABLE herald_outbox SET (ttl_expiration_expression = 'published_at + INTERVAL ''168 hours''', ttl_job_cron = '@hourly');",
    "ALTER TABLE herald_commands SET (ttl_expiration_expression = 'expires_at', ttl_job_cron = '@hourly');",
    "ALTER TABLE herald_inbox SET (ttl_expiration_expression = 'processed_at + INTERVAL ''48 hours''', ttl_job_cron = '@hourly');",
    "ALTER TABLE herald_dead_letters SET (ttl_expiration_expression = 'created_at + INTERVAL ''720 hours''', ttl_job_cron = '@hourly');",
    "ALTER TABLE herald_identity_issuances SET (ttl_expiration_expression = 'expires_at + INTERVAL ''2160 hours''', ttl_job_cron = '@hourly');",
    "ALTER TABLE herald_operator_actions SET (ttl_expiration_expression = 'at + INTERVAL ''8760 hours''', ttl_job_cron = '@hourly');",
    "ALTER TABLE herald_reactor_rejections SET (ttl_expiration_expression = 'created_at + INTERVAL ''720 hours''', ttl_job_cron = '@hourly');",
  ]);
  assert.throws(() => rowLevelTtlStatements({ cron: "'; DROP TABLE x; --" }), /cron must be/);
  assert.throws(() => rowLevelTtlStatements({ inboxRetentionHours: 0 }), /inbox retention/);
});

test("prune refuses a bad consumer or retention with one line and exit 2, deleting nothing", async () => {
  const kept = await inboxRow("x", 9000);
  const bad = await runCli(["prune", "--consumer", "no spaces"], { env });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--consumer "no spaces"/);
  assert.equal(bad.stderr.trim().split("\n").length, 1);
  const badHours = await runCli(["prune"], { env: { ...env, HERALD_INBOX_RETENTION_HOURS: "0" } });
  assert.equal(badHours.code, 2, badHours.stderr);
  assert.match(badHours.stderr, /HERALD_INBOX_RETENTION_HOURS/);
  assert.equal(badHours.stderr.trim().split("\n").length, 1);
  assert.ok((await inboxIds()).has(kept));
});
