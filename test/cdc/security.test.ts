import assert from "node:assert/strict";
import { after, test } from "node:test";
import pg from "pg";
import { cdcFindings, cdcGrantsSql, cdcNatsRole, cdcUser } from "../../src/security/cdc-role.js";
import { parseNatsConfig } from "../../src/security/nats-config-parser.js";
import { natsUsersFromConfig } from "../../src/security/nats-users.js";
import { runCli } from "../kit/cli.js";
import { createTestDatabase } from "../kit/database.js";
import { uniqueDomain } from "../kit/names.js";

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test("herald permissions --cdc adds a user that may publish only its own cdc subjects", async () => {
  const domain = uniqueDomain("sec");
  const result = await runCli(["permissions", "--domain", domain, "--cdc"]);
  assert.equal(result.code, 0, result.stderr);
  const users = natsUsersFromConfig(parseNatsConfig(result.stdout));
  const cdc = users.find((u) => u.name === cdcUser(domain))!;
  assert.ok(cdc, result.stdout);
  assert.deepEqual(cdc.publish.allow, [`${domain}.cdc.>`, "$JS.API.INFO", `$JS.API.STREAM.INFO.${domain.toUpperCase()}_CDC`, `$JS.API.STREAM.CREATE.${domain.toUpperCase()}_CDC`]);
  // The generated set is consistent: nobody else may publish the CDC tree, and the CDC user not the events.
  assert.deepEqual(cdcFindings([{ domain, tables: [] }], users), []);
  assert.ok(!cdc.publish.allow!.some((s) => s.includes(".evt.")));
  const without = await runCli(["permissions", "--domain", domain]);
  assert.ok(!without.stdout.includes(cdcUser(domain)), "the CDC user only with --cdc");
});

test("the audit reports a foreign publisher of a CDC tree and a table with two owners", () => {
  const role = cdcNatsRole({ domain: "bank" });
  const config = `authorization { users = [
    { user: ${role.user}, password: a, permissions: { publish: ["bank.cdc.>"], subscribe: ["_INBOX.>"] } }
    { user: sneaky, password: b, permissions: { publish: ["bank.cdc.bank_accounts.update"], subscribe: ["_INBOX.>"] } }
    { user: everyone, password: c, permissions: { publish: { allow: ["*.cdc.>"], deny: ["bank.cdc.>"] }, subscribe: ["_INBOX.>"] } }
  ] }`;
  const users = natsUsersFromConfig(parseNatsConfig(config));
  const findings = cdcFindings(
    [
      { domain: "bank", tables: ["bank_accounts"], cdcTables: ["bank_accounts", "orders"] },
      { domain: "shop", tables: ["orders"] },
    ],
    users,
  );
  assert.deepEqual(
    findings.map((f) => [f.kind, f.target, f.user ?? ""]),
    [
      ["two-owners", "orders", ""],
      ["cdc-foreign-publisher", "bank.cdc.>", "sneaky"],
      // Its deny keeps it out of bank's tree, not shop's.
      ["cdc-foreign-publisher", "shop.cdc.>", "everyone"],
    ],
  );
});

test("herald grants --cdc: the role replicates and reads the watched table only; bad input is refused", async () => {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  const domain = uniqueDomain("grt");
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  cleanups.push(() => admin.end());
  await admin.query("CREATE TABLE watched (id text PRIMARY KEY); CREATE TABLE secret (id text PRIMARY KEY); INSERT INTO watched VALUES ('w'); INSERT INTO secret VALUES ('s')");
  const result = await runCli(["grants", "--cdc", "--domain", domain, "--dialect", "postgresql", "--table", "watched"]);
  assert.equal(result.code, 0, result.stderr);
  await admin.query(result.stdout);
  cleanups.push(() => admin.query(`DROP OWNED BY ${cdcUser(domain)}; DROP ROLE ${cdcUser(domain)}`));
  const { rows } = await admin.query("SELECT rolreplication FROM pg_roles WHERE rolname = $1", [cdcUser(domain)]);
  assert.equal(rows[0]?.rolreplication, true);
  const url = new URL(database.url);
  url.username = cdcUser(domain);
  url.password = "";
  const bridge = new pg.Client({ connectionString: url.toString() });
  await bridge.connect();
  cleanups.push(() => bridge.end());
  assert.equal((await bridge.query("SELECT id FROM watched")).rows[0].id, "w");
  await assert.rejects(bridge.query("SELECT id FROM secret"), /permission denied/);
  await assert.rejects(bridge.query("INSERT INTO watched VALUES ('x')"), /permission denied/);

  const crdb = cdcGrantsSql({ domain, tables: ["watched"] });
  assert.match(crdb, /GRANT CHANGEFEED, SELECT ON TABLE "watched" TO "herald_grt[0-9a-f]+_cdc";/);
  const bad = await runCli(["grants", "--cdc", "--domain", domain, "--table", "x; DROP TABLE secret"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /must be 1-64 characters/);
  const none = await runCli(["grants", "--cdc", "--domain", domain]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /--table/);
});
