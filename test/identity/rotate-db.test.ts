import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { connectDatabase } from "../../src/db/connection.js";
import { runCli } from "../kit/cli.js";
import { uniqueDomain } from "../kit/names.js";
import { startPostgresServer, type PrivatePostgres } from "../kit/postgres-server.js";
import { waitFor } from "../kit/wait.js";

// A private PostgreSQL with password logins (the shared one trusts every
// connection, so it cannot show a stale password failing).
const domain = uniqueDomain("rot");
const role = `herald_${domain}_worker`;
let server: PrivatePostgres;
let dir: string;

const passwordFile = () => join(dir, `${role}.password`);
const readPassword = async () => (await readFile(passwordFile(), "utf8")).trim();
async function login(password: string): Promise<true | string> {
  const client = new pg.Client({ host: "127.0.0.1", port: server.port, database: "postgres", user: role, password, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "herald-rotate-"));
  server = await startPostgresServer({ password: "admin-secret" });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE ROLE "${role}" LOGIN`);
  await admin.end();
});
after(async () => {
  await server?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({ DATABASE_URL: server.url });

test("identity rotate-db gives the role a fresh password with VALID UNTIL, in a 0600 file DATABASE_PASSWORD_FILE reads", async () => {
  const r = await runCli(["identity", "rotate-db", "--domain", domain, "--password-dir", dir, "--valid-for", "1h"], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const password = await readPassword();
  assert.match(r.stdout, new RegExp(`^rotated ${role}: password in .+, valid until \\d{4}-`, "m"));
  assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), "the password is never printed");
  assert.equal((await stat(passwordFile())).mode & 0o777, 0o600);
  assert.equal(await login(password), true);
  // Herald's own connection path: the URL names the role, the file gives the password.
  const database = await connectDatabase({ url: `postgresql://${role}@127.0.0.1:${server.port}/postgres`, passwordFile: passwordFile(), poolMax: 1 });
  try {
    const { rows } = await database.pool.query<{ until: Date }>("SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = current_user");
    const hours = (rows[0]!.until.getTime() - Date.now()) / 3_600_000;
    assert.ok(hours > 0.95 && hours <= 1, `valid for an hour (${hours.toFixed(3)} h)`);
  } finally {
    await database.destroy();
  }
});

test("migrate --rotate-credentials migrates, then rotates: the stale password stops working", async () => {
  const stale = await readPassword();
  const r = await runCli(["migrate", "--rotate-credentials", "--domain", domain, "--password-dir", dir], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /applied \d+ migration\(s\)|database is up to date/);
  assert.match(r.stdout, new RegExp(`^rotated ${role}: `, "m"));
  const fresh = await readPassword();
  assert.notEqual(fresh, stale);
  assert.equal(await login(stale), "28P01", "the stale password is refused");
  assert.equal(await login(fresh), true);
});

test("a password past VALID UNTIL stops working", async () => {
  const r = await runCli(["identity", "rotate-db", "--role", role, "--password-dir", dir, "--valid-for", "1s"], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const password = await readPassword();
  const until = new Date(/valid until (\S+)/.exec(r.stdout)![1]!).getTime();
  await waitFor(() => Date.now() > until + 200, { what: "VALID UNTIL to pass", timeoutMs: 5000 });
  assert.equal(await login(password), "28P01");
});

test("bad input: a missing role, a bad duration, no directory; nothing changes", async () => {
  const before = await readPassword();
  const missing = await runCli(["identity", "rotate-db", "--role", "herald_nobody_worker", "--role", role, "--password-dir", dir], { env: env() });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such database role: herald_nobody_worker/);
  const duration = await runCli(["identity", "rotate-db", "--role", role, "--password-dir", dir, "--valid-for", "soon"], { env: env() });
  assert.equal(duration.code, 2);
  assert.match(duration.stderr, /--valid-for must be a duration/);
  const noDir = await runCli(["migrate", "--rotate-credentials", "--domain", domain], { env: { ...env(), HERALD_DB_PASSWORD_DIR: undefined } });
  assert.equal(noDir.code, 2);
  assert.match(noDir.stderr, /--password-dir/);
  const injection = await runCli(["identity", "rotate-db", "--role", `x"; DROP ROLE postgres; --`, "--password-dir", dir], { env: env() });
  assert.equal(injection.code, 2);
  assert.equal(await readPassword(), before, "the password file is untouched");
});
