import assert from "node:assert/strict";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../../src/config.js";
import { LIVE_FILES, migrateTwice } from "../cockroach-live/run.js";
import { ROOT, runCli } from "../kit/cli.js";

// `npm run test:cockroach` (test/cockroach-live/run.ts) against the PostgreSQL
// the suite runs on: it must refuse in one line and run nothing.

const RUNNER = join(ROOT, "test/cockroach-live/run.ts");

test("npm run test:cockroach refuses a PostgreSQL server in one clear line, exit 2", async () => {
  const r = await runCli([], { command: [process.execPath, "--import", "tsx", RUNNER], env: { DATABASE_URL: loadConfig().DATABASE_URL } });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, "", "nothing ran");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^npm run test:cockroach needs CockroachDB at DATABASE_URL, found PostgreSQL \d+/);
  assert.match(lines[0]!, /docker compose up -d cockroach/);
});

test("npm run test:cockroach refuses an unreachable server the same way", async () => {
  const r = await runCli([], { command: [process.execPath, "--import", "tsx", RUNNER], env: { DATABASE_URL: "postgresql://root@127.0.0.1:1/defaultdb" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^npm run test:cockroach needs CockroachDB at DATABASE_URL, found nothing usable \(connect ECONNREFUSED/);
});

test("every file the live mode runs exists and stays out of npm test's globs unless it is a shared suite", async () => {
  for (const file of LIVE_FILES) {
    await access(join(ROOT, file));
    if (file.startsWith("test/cockroach-live/")) assert.match(file, /\.live\.ts$/, `${file} must not match test/*/*.test.ts`);
  }
});

test("its migrate-twice step, run here on PostgreSQL: the first run applies, the second finds the database up to date", async () => {
  const [first, second] = await migrateTwice(loadConfig().DATABASE_URL, { cascade: false });
  assert.match(first!, /^applied \d+ migration\(s\): .*bank\/0001_bank_accounts/);
  assert.equal(second, "database is up to date");
});
