import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { migrateApp } from "../../src/db/migrate-app.js";
import { firstRunDelayMs, startPruner } from "../../src/operations/pruner.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";

/**
 * docs/operations.md §5: every worker prunes every 10 minutes, "the first run at
 * a random point of that interval" (the whole interval, not only its second half).
 */

let database: TestDatabase<any>;
before(async () => {
  database = await createTestDatabase();
  await migrateApp(database.db);
});
after(() => database?.drop());

test("the first run's delay is a uniform point of the whole interval", () => {
  const interval = 600_000;
  assert.equal(firstRunDelayMs(interval, () => 0), 0);
  assert.equal(firstRunDelayMs(interval, () => 0.25), 150_000);
  assert.equal(firstRunDelayMs(interval, () => 0.5), 300_000);
  assert.ok(firstRunDelayMs(interval, () => 0.999_999) < interval);
  const samples = Array.from({ length: 2000 }, () => firstRunDelayMs(interval));
  assert.ok(samples.every((d) => Number.isInteger(d) && d >= 0 && d < interval), "inside the interval");
  // Each quarter holds about 500 of 2000 uniform draws; fewer than 350 has a chance below 1e-12.
  for (let q = 0; q < 4; q++) {
    const inQuarter = samples.filter((d) => d >= (q * interval) / 4 && d < ((q + 1) * interval) / 4).length;
    assert.ok(inQuarter > 350, `quarter ${q + 1} holds ${inQuarter} of 2000 first runs`);
  }
});

test("a pruner whose draw falls early in an hour-long interval prunes at once, not after half an hour", async () => {
  const domain = uniqueDomain("prn");
  const id = randomUUID();
  await sql`INSERT INTO herald_commands (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at, expires_at)
            VALUES (${id}, ${domain}, 'k', ${`${domain}.cmd.x`}, 'x', '{}', 'h', 'rejected', '{}', now() - INTERVAL '9 days', now() - INTERVAL '9 days', now() - INTERVAL '2 days')`.execute(database.db);
  const pruner = startPruner({ db: database.db, domain, intervalMs: 3_600_000, random: () => 0.000_001 });
  try {
    await waitFor(async () => (await database.db.selectFrom("herald_commands").select("id").where("id", "=", id).execute()).length === 0 || undefined, {
      what: "the expired command pruned by the first run",
    });
  } finally {
    await pruner.stop();
  }
});
