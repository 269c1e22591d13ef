import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { consumerRetention, ConfigError } from "../../src/config.js";
import { consume } from "../../src/consumer/index.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { waitFor } from "../kit/wait.js";

// The documented settings, as an operator sets them: consume() below passes no hours.
process.env.HERALD_INBOX_RETENTION_HOURS = "2160";
process.env.HERALD_DEAD_LETTER_RETENTION_HOURS = "1000";

let h: Harness;
before(async () => {
  h = await createHarness();
  await h.startWorker({ prune: false });
});
after(() => h.close());

async function inboxRow(consumer: string, ageHours: number): Promise<string> {
  const id = randomUUID();
  await sql`INSERT INTO herald_inbox (consumer, event_id, processed_at) VALUES (${consumer}, ${id}::UUID, now() - (${ageHours}::INT * INTERVAL '1 hour'))`.execute(h.database.db);
  return id;
}

async function deadLetter(consumer: string, ageHours: number): Promise<string> {
  const id = randomUUID();
  await sql`INSERT INTO herald_dead_letters (id, consumer, domain, event_id, subject, headers, error, deliveries, created_at)
            VALUES (${id}, ${consumer}, ${h.domain}, ${randomUUID()}, ${`${h.domain}.evt.x`}, '{}', 'boom', 5, now() - (${ageHours}::INT * INTERVAL '1 hour'))`.execute(h.database.db);
  return id;
}

const has = async (table: "herald_inbox" | "herald_dead_letters", column: "event_id" | "id", id: string) =>
  (await sql<{ n: number }>`SELECT count(*)::INT AS n FROM ${sql.table(table)} WHERE ${sql.ref(column)} = ${id}::UUID`.execute(h.database.db)).rows[0]!.n === 1;

test("consume() with default retention follows HERALD_INBOX_RETENTION_HOURS and HERALD_DEAD_LETTER_RETENTION_HOURS", async () => {
  const durable = "env_retention";
  // 800 h is past the 720 h default but within the configured 2160 h: a replay of this event must still find it.
  const keptInbox = await inboxRow(durable, 800);
  const expiredInbox = await inboxRow(durable, 2200);
  const keptDead = await deadLetter(durable, 800);
  const expiredDead = await deadLetter(durable, 1100);
  const consumer = await consume({ nc: h.nc, db: h.database.db, domain: h.domain, durable, handle: () => undefined, prune: { intervalMs: 100 } });
  try {
    await waitFor(async () => (!(await has("herald_inbox", "event_id", expiredInbox)) && !(await has("herald_dead_letters", "id", expiredDead))) || undefined, {
      what: "the consumer's first prune",
    });
  } finally {
    await consumer.stop();
  }
  assert.ok(await has("herald_inbox", "event_id", keptInbox), "an 800-hour-old inbox row is kept under a 2160 h retention");
  assert.ok(await has("herald_dead_letters", "id", keptDead), "an 800-hour-old dead letter is kept under a 1000 h retention");
});

test("consumerRetention: documented defaults, and a bad value is refused by name", () => {
  assert.deepEqual(consumerRetention({}), { inboxRetentionHours: 720, deadLetterRetentionHours: 720 });
  assert.deepEqual(consumerRetention({ HERALD_INBOX_RETENTION_HOURS: "48", HERALD_DEAD_LETTER_RETENTION_HOURS: "" }), {
    inboxRetentionHours: 48,
    deadLetterRetentionHours: 720,
  });
  assert.throws(() => consumerRetention({ HERALD_INBOX_RETENTION_HOURS: "0" }), (err: unknown) => err instanceof ConfigError && /HERALD_INBOX_RETENTION_HOURS/.test(err.message));
});
