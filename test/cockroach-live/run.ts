/**
 * `npm run test:cockroach`: Herald against a real CockroachDB at DATABASE_URL
 * (docs/cockroachdb.md, "Testing against a real CockroachDB"). It refuses any
 * other server in one line, migrates a fresh database twice with the CLI, then
 * runs the test files below with the test kit switched to CockroachDB.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { loadConfig } from "../../src/config.js";
import { runCli } from "../kit/cli.js";

/** Suites that need no PostgreSQL-only fault tool, and the live-only ones. */
export const LIVE_FILES: readonly string[] = [
  "test/core/idempotency.test.ts",
  "test/core/events.test.ts",
  "test/core/bad-input.test.ts",
  "test/core/admission.test.ts",
  "test/core/contention.test.ts",
  "test/core/outbox-relay.test.ts",
  "test/commands/lone-command.test.ts",
  "test/commands/group-commit.test.ts",
  "test/consumer/exactly-once.test.ts",
  "test/consumer/dead-letter.test.ts",
  "test/cockroach-live/retry-injection.live.ts",
  "test/cockroach-live/changefeed.live.ts",
];

/** The one line printed when DATABASE_URL is not CockroachDB. */
export function refusal(found: string): string {
  return `npm run test:cockroach needs CockroachDB at DATABASE_URL, found ${found}: start one with \`docker compose up -d cockroach\` and run DATABASE_URL=postgresql://root@127.0.0.1:26257/defaultdb?sslmode=disable npm run test:cockroach`;
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string }>("SELECT version() AS version");
    return rows[0]?.version ?? "a server without version()";
  } catch (err) {
    return `nothing usable (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function onAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * `herald migrate --app` twice on a fresh database: the first run applies, the
 * second finds it up to date. `cascade` drops it the CockroachDB way (explicit
 * CASCADE, which PostgreSQL's DROP DATABASE lacks). Returns each run's output.
 */
export async function migrateTwice(url: string, options: { cascade: boolean }): Promise<string[]> {
  const outputs: string[] = [];
  const name = `herald_live_${randomBytes(5).toString("hex")}`;
  await onAdmin(url, (c) => c.query(`CREATE DATABASE ${name}`));
  const target = new URL(url);
  target.pathname = `/${name}`;
  try {
    for (const run of ["first", "second"]) {
      const r = await runCli(["migrate", "--app", "./examples/bank/index.ts"], {
        env: { DATABASE_URL: target.toString() },
        command: [process.execPath, "--import", "tsx", "src/cli/main.ts"],
        timeoutMs: 120_000,
      });
      outputs.push(r.stdout.trim());
      if (r.code !== 0) throw new Error(`herald migrate (${run} run) failed: ${r.stderr}`);
      if (run === "first" && !/^applied \d+ migration/m.test(r.stdout)) throw new Error(`the first herald migrate applied nothing:\n${r.stdout}`);
      if (run === "second" && r.stdout.trim() !== "database is up to date") throw new Error(`the second herald migrate did not find the database up to date:\n${r.stdout}`);
    }
  } finally {
    await onAdmin(url, (c) => c.query(`DROP DATABASE IF EXISTS ${name}${options.cascade ? " CASCADE" : ""}`));
  }
  return outputs;
}

async function main(): Promise<number> {
  const url = loadConfig().DATABASE_URL;
  const version = await serverVersion(url);
  if (!/cockroachdb/i.test(version)) {
    process.stderr.write(`${refusal(version.split("\n")[0]!.slice(0, 120))}\n`);
    return 2;
  }
  process.stdout.write(`# ${version}\n`);
  for (const [i, out] of (await migrateTwice(url, { cascade: true })).entries()) process.stdout.write(`# herald migrate, run ${i + 1}: ${out}\n`);
  const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=180000", ...LIVE_FILES], {
    stdio: "inherit",
    env: { ...process.env, HERALD_TEST_DATABASE: "cockroachdb" },
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`npm run test:cockroach failed: ${err.message}\n`);
      process.exit(1);
    },
  );
}
