import assert from "node:assert/strict";
import { test } from "node:test";
import { coreMigrationsFolder } from "../../src/db/migrator.js";
import { auditSecurity } from "../../src/security/audit.js";
import { consoleGrantsSql, consoleNatsRole, consoleUser, OPERATOR_LOG_TABLE } from "../../src/security/console-role.js";
import { grantsSql } from "../../src/security/grants.js";
import { parseNatsConfig } from "../../src/security/nats-config-parser.js";
import { renderNatsAuthorization } from "../../src/security/nats-config-render.js";
import { domainPermissions } from "../../src/security/nats-permissions.js";
import { natsUsersFromConfig } from "../../src/security/nats-users.js";
import { tablesInMigrations } from "../../src/security/sql-tables.js";
import { runCli } from "../kit/cli.js";

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
  assert.doesNotMatch(grantsSql({ domain: "bank", heraldTables, domainTables: [] }), /herald_operator_actions/);
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
    heraldTables: ["herald_commands", OPERATOR_LOG_TABLE],
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

test("herald console refuses actions without the operator token, in one line", async () => {
  const r = await runCli(["console"], { env: { HERALD_CONSOLE_ACTIONS: "true" } });
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), "herald console: HERALD_CONSOLE_ACTIONS needs HERALD_CONSOLE_OPERATOR_TOKEN_FILE (the operator token)");
});
