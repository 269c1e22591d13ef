import assert from "node:assert/strict";
import { test } from "node:test";
import { coreMigrationsFolder, workerUsesTable } from "../../src/db/migrator.js";
import { auditSecurity } from "../../src/security/audit.js";
import { consoleGrantsSql, consoleNatsRole, consoleUser, OPERATOR_LOG_TABLE } from "../../src/security/console-role.js";
import { grantsSql } from "../../src/security/grants.js";
import { parseNatsConfig } from "../../src/security/nats-config-parser.js";
import { renderNatsAuthorization } from "../../src/security/nats-config-render.js";
import { domainPermissions } from "../../src/security/nats-permissions.js";
import { natsUsersFromConfig } from "../../src/security/nats-users.js";
import { tablesInMigrations } from "../../src/security/sql-tables.js";
import { runCli, spawnCli } from "../kit/cli.js";
import { createHarness } from "../kit/harness.js";

test("the console's database role reads Herald's tables only, and writes only with actions", async () => {
  const heraldTables = await tablesInMigrations(coreMigrationsFolder());
  assert.ok(heraldTables.includes(OPERATOR_LOG_TABLE));
  const readOnly = consoleGrantsSql({ domain: "bank", heraldTables });
  assert.match(readOnly, /GRANT SELECT ON TABLE "herald_commands", .*"herald_operator_actions" TO "herald_bank_console";/);
  assert.doesNotMatch(readOnly, /INSERT|UPDATE|DELETE/);
  const acting = consoleGrantsSql({ domain: "bank", heraldTables, actions: true });
  assert.match(acting, /GRANT INSERT ON TABLE "herald_operator_actions"/);
  assert.match(acting, /GRANT DELETE ON TABLE "herald_dead_letters"/);
  assert.doesNotMatch(acting, /UPDATE/, "no action updates a row");
  // Workers get nothing on the operator log.
  assert.doesNotMatch(grantsSql({ domain: "bank", heraldTables: heraldTables.filter(workerUsesTable), domainTables: [] }), /herald_operator_actions/);
  const worker = await runCli(["grants", "--domain", "bank"]);
  assert.equal(worker.code, 0, worker.stderr);
  assert.doesNotMatch(worker.stdout, /herald_operator_actions/, "herald grants gives workers nothing on the operator log");
});

test("the console's NATS user reads; with actions it may republish events, which the audit accepts", () => {
  const readOnly = consoleNatsRole({ domain: "bank" });
  assert.ok(!readOnly.publish.allow.some((s) => s.includes(".evt.")));
  assert.ok(readOnly.publish.allow.includes("$SRV.STATS.bank"));
  const acting = consoleNatsRole({ domain: "bank", actions: true });
  assert.ok(acting.publish.allow.includes("bank.evt.>"));
  const permissions = domainPermissions({ domain: "bank" });
  const config = renderNatsAuthorization({ ...permissions, roles: [...permissions.roles, acting] });
  const users = natsUsersFromConfig(parseNatsConfig(config.replace(/\$[A-Z_]+/g, '"x"')));
  assert.ok(users.some((u) => u.name === consoleUser("bank")));
  const findings = auditSecurity({
    domains: [{ domain: "bank", tables: [] }],
    heraldTables: ["herald_commands", OPERATOR_LOG_TABLE].filter(workerUsesTable),
    users,
    database: { roles: new Set(["herald_bank_worker"]), tables: [], grants: new Map([["herald_bank_worker", new Map([["herald_commands", new Set(["SELECT", "INSERT", "UPDATE", "DELETE"])]])]]) },
  });
  assert.deepEqual(findings.filter((f) => f.kind === "two-owners" || f.kind === "events-without-grants"), []);
});

test("herald grants --console and herald permissions --console print the console's roles; bad combinations are refused", async () => {
  const grants = await runCli(["grants", "--console", "--domain", "bank", "--dialect", "postgresql"]);
  assert.equal(grants.code, 0, grants.stderr);
  assert.match(grants.stdout, /GRANT SELECT ON TABLE .* TO "herald_bank_console";/);
  const permissions = await runCli(["permissions", "--domain", "bank", "--console-actions"]);
  assert.equal(permissions.code, 0, permissions.stderr);
  assert.match(permissions.stdout, /herald_bank_console/);
  const bad = await runCli(["grants", "--actions"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--actions goes with --console/);
});

test("herald console refuses actions without one operator credential, or with a bad policy, in one line each", async () => {
  const r = await runCli(["console"], { env: { HERALD_CONSOLE_ACTIONS: "true" } });
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), "herald console: HERALD_CONSOLE_ACTIONS needs HERALD_CONSOLE_OPERATOR_TOKEN_FILE (the operator token) or HERALD_CONSOLE_OIDC_POLICY_FILE (OIDC operators)");
  const both = await runCli(["console"], { env: { HERALD_CONSOLE_ACTIONS: "true", HERALD_CONSOLE_OPERATOR_TOKEN_FILE: "a", HERALD_CONSOLE_OIDC_POLICY_FILE: "b" } });
  assert.equal(both.code, 2);
  assert.equal(both.stderr.trim(), "herald console: set one of HERALD_CONSOLE_OIDC_POLICY_FILE and HERALD_CONSOLE_OPERATOR_TOKEN_FILE, not both");
  const missing = await runCli(["console"], { env: { HERALD_CONSOLE_ACTIONS: "true", HERALD_CONSOLE_OIDC_POLICY_FILE: "no-such-policy.yaml" } });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /invalid identity policy no-such-policy\.yaml:\n {2}cannot be read \(ENOENT\)/);
});

test("herald console serves the pages as the console's read-only role, warns about none, and stops on SIGTERM", async () => {
  const h = await createHarness();
  let role: string | undefined;
  try {
    await h.startWorker();
    assert.equal((await h.send("open_account", { accountId: "cli_1", owner: "c" })).body.status, "committed");
    const heraldTables = await tablesInMigrations(coreMigrationsFolder());
    role = `${h.domain}_console`;
    const { sql } = await import("kysely");
    await sql.raw(consoleGrantsSql({ domain: h.domain, role, dialect: "postgresql", heraldTables })).execute(h.database.db);
    const url = new URL(h.database.url);
    url.username = role;
    const cli = spawnCli(["console", "--port", "0"], { env: { HERALD_CONSOLE_DATABASE_URL: url.toString(), LOG_LEVEL: "warn" } });
    const line = await cli.waitForLine(/listening on http/);
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+) \(read-only\)/.exec(line)?.[1];
    assert.ok(base, line);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const page = await fetch(`${base}/d/${h.domain}/commands`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /open_account/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    cli.child.kill("SIGTERM");
    assert.equal(await cli.stopped(15_000), 0);
    assert.doesNotMatch(cli.stderr(), /may write/, "the read-only role holds no write grant");
    // As the database's owner (a write grant) the same console says so.
    const owner = spawnCli(["console", "--port", "0"], { env: { DATABASE_URL: h.database.url, LOG_LEVEL: "warn" } });
    await owner.waitForLine(/listening on http/);
    owner.child.kill("SIGTERM");
    assert.equal(await owner.stopped(15_000), 0);
    assert.match(owner.stderr(), /may write Herald's tables although actions are off/);
  } finally {
    await h.close();
    if (role) {
      const { dropRoles } = await import("./console-fixture.js");
      await dropRoles([role]);
    }
  }
});

test("the sign-in form refuses wrong tokens, and after 20 within a minute refuses every try with 429", async () => {
  const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { connectDatabase } = await import("../../src/db/connection.js");
  const { loadConfig } = await import("../../src/config.js");
  const { connectSharedNats } = await import("../kit/nats-server.js");
  const { startConsole } = await import("../../src/console/server.js");
  const { tokenAuthenticator } = await import("../../src/console/operator-auth.js");
  const dir = await mkdtemp(join(tmpdir(), "herald-token-"));
  await writeFile(join(dir, "short"), "too-short\n");
  await assert.rejects(tokenAuthenticator(join(dir, "short")), /at least 16 characters/);
  await writeFile(join(dir, "token"), "a-long-enough-operator-token\n");
  const database = await connectDatabase<any>({ url: loadConfig().DATABASE_URL, poolMax: 1 });
  const nc = await connectSharedNats();
  const console = await startConsole({ db: database.db, dialect: database.dialect, nc, port: 0, actions: true, authenticator: await tokenAuthenticator(join(dir, "token")) });
  try {
    const login = (credential: string) =>
      fetch(`${console.url}/login`, { method: "POST", body: new URLSearchParams({ credential }), headers: { origin: console.url }, redirect: "manual" });
    const ok = await login("a-long-enough-operator-token");
    assert.equal(ok.status, 302);
    assert.match(ok.headers.get("set-cookie") ?? "", /HttpOnly.*SameSite=Strict|SameSite=Strict.*HttpOnly/i);
    for (let i = 0; i < 20; i++) assert.equal((await login(`guess-${i}`)).status, 401);
    assert.equal((await login("guess-21")).status, 429);
    assert.equal((await login("a-long-enough-operator-token")).status, 429, "blocked for the rest of the minute");
  } finally {
    await console.close();
    await nc.close();
    await database.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});
