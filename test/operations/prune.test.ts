import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { runCli } from "../kit/cli.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueDomain } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";

let h: Harness;
let env: Record<string, string | undefined>;
/** Command ids by role. */
const ids: Record<string, string> = {};
const otherDomain = uniqueDomain("other");

async function open(role: string, accountId: string): Promise<void> {
  const r = await h.send("open_account", { accountId, owner: role });
  ids[role] = r.body.commandId;
}

const commandIds = async () =>
  new Set((await h.database.db.selectFrom("herald_commands").select("id").execute()).map((r) => r.id));
const eventCommandIds = async () =>
  new Set((await h.database.db.selectFrom("herald_outbox").select("command_id").execute()).map((r) => r.command_id));

before(async () => {
  h = await createHarness();
  const worker = await h.startWorker({ prune: false });
  env = { DATABASE_URL: h.database.url, HERALD_DOMAIN: undefined };
  await open("expired", "p_a"); // past expires_at, events published: goes, with its event
  await open("expiredUnpublished", "p_b"); // past expires_at, event unpublished: stays
  await open("oldEvent", "p_c"); // kept, but its event was published 200 h ago: the event goes
  await open("unpublished", "p_d"); // kept, event unpublished
  await open("fresh", "p_e"); // kept
  ids.rejected = (await h.send("open_account", { accountId: "p_a", owner: "again" })).body.commandId; // expired, no events: goes
  await waitFor(async () => (await h.database.db.selectFrom("herald_outbox").select("id").where("published_at", "is", null).execute()).length === 0 || undefined, {
    what: "all events published",
  });
  // No relay from here on: the unpublished events below must stay unpublished.
  await worker.stop();
  const db = h.database.db;
  await sql`UPDATE herald_commands SET expires_at = now() - INTERVAL '1 hour' WHERE id IN (${ids.expired}, ${ids.expiredUnpublished}, ${ids.rejected})`.execute(db);
  await sql`UPDATE herald_outbox SET published_at = NULL, stream_seq = NULL WHERE command_id IN (${ids.expiredUnpublished}, ${ids.unpublished})`.execute(db);
  await sql`UPDATE herald_outbox SET published_at = now() - INTERVAL '200 hours' WHERE command_id = ${ids.oldEvent}`.execute(db);
  // Another domain's expired command: out of reach of a --domain prune.
  ids.other = randomUUID();
  await sql`INSERT INTO herald_commands (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at, expires_at)
            VALUES (${ids.other}, ${otherDomain}, 'k', ${`${otherDomain}.cmd.x`}, 'x', '{}', 'h', 'rejected', '{}', now() - INTERVAL '9 days', now() - INTERVAL '9 days', now() - INTERVAL '2 days')`.execute(db);
});
after(() => h.close());

test("prune --dry-run counts, deletes nothing; HERALD_EVENT_RETENTION_HOURS moves the event cut-off", async () => {
  const before = await commandIds();
  const dry = await runCli(["prune", "--domain", h.domain, "--dry-run", "--json"], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(JSON.parse(dry.stdout), {
    events: 1, commands: 2, inbox: 0, deadLetters: 0, issuances: 0, dryRun: true, domain: h.domain, consumer: null,
    eventRetentionHours: 168, inboxRetentionHours: 720, deadLetterRetentionHours: 720, identityRetentionHours: 2160, operatorActions: 0, operatorActionRetentionHours: 8760,
    reactorRejections: 0,
  });
  const longer = await runCli(["prune", "--domain", h.domain, "--dry-run", "--json"], { env: { ...env, HERALD_EVENT_RETENTION_HOURS: "300" } });
  assert.equal(JSON.parse(longer.stdout).events, 0);
  assert.deepEqual(await commandIds(), before);
});

test("prune deletes only what is past retention, in batches, and never unpublished events or their commands", async () => {
  const r = await runCli(["prune", "--domain", h.domain, "--batch", "1"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${h.domain}: deleted 2 expired command record\\(s\\) with their events, 1 published event\\(s\\) older than 168 h, 0 inbox row`, "m"));

  const commands = await commandIds();
  for (const role of ["expiredUnpublished", "oldEvent", "unpublished", "fresh", "other"]) assert.ok(commands.has(ids[role]!), `${role} command kept`);
  for (const role of ["expired", "rejected"]) assert.ok(!commands.has(ids[role]!), `${role} command deleted`);
  const events = await eventCommandIds();
  for (const role of ["expiredUnpublished", "unpublished", "fresh"]) assert.ok(events.has(ids[role]!), `${role} event kept`);
  for (const role of ["expired", "oldEvent"]) assert.ok(!events.has(ids[role]!), `${role} event deleted`);

  // Without a domain (and no HERALD_DOMAIN) every domain is pruned.
  const all = await runCli(["prune"], { env });
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^every domain: deleted 1 expired command record/m);
  assert.ok(!(await commandIds()).has(ids.other!));
});

test("a worker prunes its domain periodically, once the relay has published what it must keep", async () => {
  await h.startWorker({ prune: { intervalMs: 100, batchSize: 2 } });
  await open("later", "p_f");
  await sql`UPDATE herald_commands SET expires_at = now() - INTERVAL '1 minute' WHERE id = ${ids.later}`.execute(h.database.db);
  await waitFor(async () => {
    const commands = await commandIds();
    // The expired command whose event was unpublished goes too, after the relay published that event.
    return (!commands.has(ids.later!) && !commands.has(ids.expiredUnpublished!)) || undefined;
  }, { what: "expired commands pruned by the worker" });
  const commands = await commandIds();
  for (const role of ["oldEvent", "unpublished", "fresh"]) assert.ok(commands.has(ids[role]!), `${role} kept`);
});

test("prune refuses bad input with one line and exit 2", async () => {
  for (const [args, message] of [
    [["prune", "--batch", "0"], /--batch "0" must be an integer from 1/],
    [["prune", "--batch", "lots"], /--batch "lots"/],
    [["prune", "--domain", "No"], /domain "No"/],
    [["prune", "--force"], /Unknown option '--force'/],
  ] as const) {
    const r = await runCli([...args], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  }
});
