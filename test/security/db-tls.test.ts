import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { runCli } from "../kit/cli.js";
import { assertCanRunPostgres, startTlsPostgres, type TlsPostgres } from "./tls-postgres.js";
import { makeCertificates } from "./tls-certs.js";

// DATABASE_URL's TLS parameters (sslmode=verify-full, sslrootcert, sslcert,
// sslkey) and DATABASE_PASSWORD_FILE against a PostgreSQL that accepts nothing
// else. Needs initdb/postgres on this machine: without them every test fails
// with a message saying so (never skipped).
const superPassword = randomBytes(12).toString("hex");
let dir: string;
let server: TlsPostgres;
const opened: Database<any>[] = [];

async function open(url: string, passwordFile: string): Promise<Database<any>> {
  const database = await connectDatabase({ url, passwordFile, poolMax: 4 });
  opened.push(database);
  return database;
}

before(async () => {
  await assertCanRunPostgres();
  dir = await mkdtemp(join(tmpdir(), "herald-dbtls-"));
  server = await startTlsPostgres(await makeCertificates(dir), superPassword);
});
after(async () => {
  await Promise.allSettled(opened.map((d) => d.destroy()));
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("verify-full TLS with a client certificate; the password file is read for each new connection", async () => {
  const adminPassword = join(dir, "admin.pw");
  await writeFile(adminPassword, `${superPassword}\n`);
  const admin = await open(server.url("postgres"), adminPassword);
  const { rows } = await sql<{ ssl: boolean }>`SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`.execute(admin.db);
  assert.equal(rows[0]!.ssl, true);

  await sql`CREATE ROLE herald_tls LOGIN PASSWORD 'first-password'`.execute(admin.db);
  const passwordFile = join(dir, "worker.pw");
  await writeFile(passwordFile, "first-password\n");
  const worker = await open(server.url("herald_tls"), passwordFile);
  const first = await worker.pool.connect();
  assert.equal((await first.query("SELECT current_user AS u")).rows[0].u, "herald_tls");

  // Rotate: new password on the server and in the file; the next connection uses it.
  await sql`ALTER ROLE herald_tls PASSWORD 'second-password'`.execute(admin.db);
  await writeFile(passwordFile, "second-password\n");
  const second = await worker.pool.connect();
  assert.equal((await second.query("SELECT current_user AS u")).rows[0].u, "herald_tls");
  first.release();
  second.release();

  await writeFile(passwordFile, "stale-password\n");
  const stale = await connectDatabase({ url: server.url("herald_tls"), passwordFile }).catch((e: Error) => e);
  assert.match(String(stale), /password authentication failed/);
});

test("connections without the CA, the client certificate or TLS are refused", async () => {
  const passwordFile = join(dir, "admin2.pw");
  await writeFile(passwordFile, superPassword);
  const attempt = (url: string) => connectDatabase({ url, passwordFile }).then((d) => (opened.push(d), "connected"), (e: Error) => e.message);
  assert.match(await attempt(server.url("postgres", { rootCert: false })), /self[- ]signed|unable to verify|certificate/i);
  assert.match(await attempt(server.url("postgres", { clientCert: false })), /certificate/i);
  assert.match(await attempt(server.url("postgres", { sslmode: "disable", rootCert: false, clientCert: false })), /pg_hba\.conf|no encryption/);
});

test("herald migrate runs over verify-full TLS with DATABASE_PASSWORD_FILE, and a wrong password leaks nothing", async () => {
  const passwordFile = join(dir, "migrate.pw");
  await writeFile(passwordFile, superPassword);
  const ok = await runCli(["migrate"], { env: { DATABASE_URL: server.url("postgres"), DATABASE_PASSWORD_FILE: passwordFile } });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /applied \d+ migration\(s\)/);

  const url = new URL(server.url("postgres"));
  url.password = "url-password-9f8e";
  const wrong = await runCli(["migrate"], { env: { DATABASE_URL: url.toString() } });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /password authentication failed/);
  assert.doesNotMatch(wrong.stderr + wrong.stdout, /url-password-9f8e/);
});
