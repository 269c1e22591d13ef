import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { checkLicense, licenseWarning, THROTTLED_TRANSACTIONS } from "../../src/db/license-check.js";
import type { Logger } from "../../src/telemetry/logger.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { openStatementLog } from "../kit/statement-log.js";

// The license-throttle check of `herald start` (docs/cockroachdb.md, "License throttle").

let database: TestDatabase<unknown>;
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  await database?.drop();
});

function recordingLogger(): Logger & { lines: Array<{ level: string; obj: object; msg?: string }> } {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  const logger = { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: () => logger };
  return logger;
}

test("an empty license key warns with the throttle's 5 transactions and the pool size; a key set does not", () => {
  const warning = licenseWarning("", 10);
  assert.ok(warning);
  assert.match(warning, new RegExp(`to ${THROTTLED_TRANSACTIONS} concurrent open transactions`));
  assert.match(warning, /7 days after initialization/);
  assert.match(warning, /may open 10 \(HERALD_DB_POOL_MAX\)/);
  assert.match(warning, /Single-node clusters .* are not throttled/);
  assert.equal(THROTTLED_TRANSACTIONS, 5);
  assert.equal(licenseWarning("crl-0-ChB1x", 10), undefined);
  assert.ok(licenseWarning("  ", 3), "blank is empty");
});

test("on PostgreSQL nothing is sent and nothing is logged", async () => {
  const logger = recordingLogger();
  const log = openStatementLog();
  try {
    assert.deepEqual(await checkLicense(database.pool, { dialect: "postgresql", poolMax: 10, logger }), []);
  } finally {
    log.close();
  }
  assert.deepEqual(log.texts, []);
  assert.deepEqual(logger.lines, []);
});

test("a server that refuses the read never fails the start: one info line, no warning", async () => {
  // PostgreSQL answers SHOW CLUSTER SETTING with a syntax error, as CockroachDB answers a role without VIEWCLUSTERSETTING with an error.
  const logger = recordingLogger();
  const warnings = await checkLicense(database.pool, { dialect: "cockroachdb", poolMax: 10, logger });
  assert.deepEqual(warnings, []);
  assert.equal(logger.lines.length, 1);
  assert.equal(logger.lines[0]!.level, "info");
  assert.match(logger.lines[0]!.msg!, /license throttle not checked/);
  // The connection went back to the pool, usable.
  const { rows } = await database.pool.query<{ one: number }>("SELECT 1 AS one");
  assert.equal(rows[0]!.one, 1);
  assert.equal(database.pool.totalCount - database.pool.idleCount, 0, "no connection is held");
});
