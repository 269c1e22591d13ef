import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { bankApp } from "../../examples/bank/index.js";
import { loadConfig } from "../../src/config.js";
import { connectDatabase } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { runCli } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain } from "../kit/names.js";

// `herald audit` against a real database: consistent when NATS permissions and
// grants come from `herald permissions` and `herald grants`, and one finding
// for each kind of seeded mismatch.
const domain = uniqueDomain("aud");
const other = uniqueDomain("oth");
const role = `herald_${domain}_worker`;
let dir: string;
let database: TestDatabase<any>;
let generated: string;

interface AuditResult {
  code: number | null;
  stdout: string;
  stderr: string;
  findings: Array<{ kind: string; user?: string; role?: string; target: string; detail: string }>;
}

async function audit(config: string, extra: string[] = []): Promise<AuditResult> {
  const file = join(dir, `nats-${Math.random().toString(36).slice(2)}.conf`);
  await writeFile(file, config);
  const result = await runCli(["audit", "--nats-config", file, "--domain", domain, "--json", ...extra], { env: { DATABASE_URL: database.url } });
  const parsed = result.stdout ? JSON.parse(result.stdout) : { findings: [] };
  return { ...result, findings: parsed.findings };
}

const withUser = (config: string, user: string) => config.replace("users = [", `users = [\n    ${user}`);
const exec = (statement: string) => sql.raw(statement).execute(database.db);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "herald-audit-"));
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
  await exec(`CREATE TABLE "${other}_orders" (id TEXT PRIMARY KEY)`);
  const grants = await runCli(["grants", "--domain", domain, "--dialect", "postgresql"]);
  assert.equal(grants.code, 0, grants.stderr);
  await exec(grants.stdout);
  const permissions = await runCli(["permissions", "--domain", domain]);
  assert.equal(permissions.code, 0, permissions.stderr);
  generated = permissions.stdout;
});

after(async () => {
  await database.drop();
  const admin = await connectDatabase({ url: loadConfig().DATABASE_URL, poolMax: 1 });
  await sql`DROP ROLE IF EXISTS ${sql.id(role)}`.execute(admin.db).finally(() => admin.destroy());
  await rm(dir, { recursive: true, force: true });
});

test("generated permissions and grants are consistent: exit 0", async () => {
  const result = await audit(generated);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.deepEqual(result.findings, []);
  const text = await runCli(["audit", "--nats-config", join(dir, "consistent.conf"), "--domain", domain], { env: { DATABASE_URL: database.url } });
  assert.equal(text.code, 2, "a missing file cannot be audited");
  assert.match(text.stderr, /cannot read NATS config .*ENOENT/);
});

test("a worker that may publish events but lacks write grants is reported", async () => {
  await exec(`REVOKE INSERT, UPDATE ON herald_outbox FROM "${role}"`);
  try {
    const result = await audit(generated);
    assert.equal(result.code, 1);
    const finding = result.findings.find((f) => f.kind === "events-without-grants");
    assert.ok(finding, JSON.stringify(result.findings));
    assert.equal(finding.user, role);
    assert.equal(finding.role, role);
    assert.equal(finding.target, "herald_outbox");
    assert.match(finding.detail, /lacks INSERT, UPDATE on herald_outbox/);
  } finally {
    await exec(`GRANT INSERT, UPDATE ON herald_outbox TO "${role}"`);
  }
});

test("a worker role with grants on another domain's table is reported", async () => {
  await exec(`GRANT SELECT ON "${other}_orders" TO "${role}"`);
  try {
    const result = await audit(generated);
    assert.equal(result.code, 1);
    assert.deepEqual(
      result.findings.map((f) => [f.kind, f.role, f.target]),
      [["foreign-grants", role, `${other}_orders`]],
    );
  } finally {
    await exec(`REVOKE SELECT ON "${other}_orders" FROM "${role}"`);
  }
});

test("two users allowed to publish one domain's events are reported as two owners", async () => {
  const config = withUser(generated, `{ user: shadow, password: x, permissions: { publish: ["${domain}.evt.transferred"], subscribe: ["_INBOX.>"] } }`);
  const result = await audit(config);
  assert.equal(result.code, 1);
  const owners = result.findings.find((f) => f.kind === "two-owners");
  assert.ok(owners, JSON.stringify(result.findings));
  assert.equal(owners.target, `${domain}.evt.>`);
  assert.match(owners.user!, /shadow/);
  assert.match(owners.user!, new RegExp(role));
  // shadow has no database role behind it either.
  assert.ok(result.findings.some((f) => f.kind === "events-without-grants" && f.user === "shadow"));
});

test("unscoped wildcards and users without permissions are reported, in a readable table too", async () => {
  const config = withUser(
    generated,
    `{ user: admin, password: x, permissions: { publish: { allow: ">", deny: ["${domain}.evt.>"] }, subscribe: ["*.>"] } }\n    { user: everything, password: y }`,
  );
  const result = await audit(config);
  assert.equal(result.code, 1);
  const unscoped = result.findings.filter((f) => f.kind === "unscoped-wildcard").map((f) => `${f.user} ${f.target}`);
  assert.deepEqual(unscoped.sort(), ["admin *.>", "admin >", "everything >", "everything >"]);
  // admin's deny keeps it out of the event tree; "everything" is a second owner.
  const owners = result.findings.filter((f) => f.kind === "two-owners" && f.target === `${domain}.evt.>`);
  assert.equal(owners.length, 1);
  assert.doesNotMatch(owners[0]!.user!, /admin/);

  const file = join(dir, "table.conf");
  await writeFile(file, config);
  const table = await runCli(["audit", "--nats-config", file, "--domain", domain], { env: { DATABASE_URL: database.url } });
  assert.equal(table.code, 1);
  const lines = table.stdout.trim().split("\n");
  assert.match(lines[0]!, /^KIND\s+NATS USER\s+DB ROLE\s+SUBJECT\/TABLE\s+DETAIL$/);
  assert.ok(lines.some((l) => /^unscoped-wildcard\s+admin\s+-\s+\*\.>/.test(l)), table.stdout);
  assert.match(table.stdout.trim(), /\n\n\d+ finding\(s\)$/);
});

test("a domain nobody may publish for, and configs that cannot be read", async () => {
  const result = await audit(generated, ["--domain", other]);
  assert.equal(result.code, 1);
  assert.deepEqual(
    result.findings.map((f) => [f.kind, f.target]),
    [["no-worker", `${other}.evt.>`]],
  );

  const broken = join(dir, "broken.conf");
  await writeFile(broken, "authorization {\n  users = [ { user: a\n");
  const bad = await runCli(["audit", "--nats-config", broken, "--domain", domain], { env: { DATABASE_URL: database.url } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^herald audit: cannot read NATS config .*missing "}" at line \d+/);

  const hostile = await runCli(["audit", "--nats-config", broken, "--domain", "x'; DROP TABLE herald_commands; --"], { env: { DATABASE_URL: database.url } });
  assert.equal(hostile.code, 2, "a bad --domain is a usage error: the audit could not run");
  assert.match(hostile.stderr, /domain .* must be 1-64 characters/);
});
