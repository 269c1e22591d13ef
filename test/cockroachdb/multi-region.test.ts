import assert from "node:assert/strict";
import { test } from "node:test";
import { HERALD_TABLE_PLACEMENT, multiRegionSql, parseRegions } from "../../src/db/multi-region.js";
import { coreMigrationsFolder, HERALD_BOOKKEEPING_TABLES } from "../../src/db/migrator.js";
import { tablesInMigrations } from "../../src/security/sql-tables.js";
import { runCli } from "../kit/cli.js";

const statements = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("--"))
    .map((l) => l.trim());

/** What `herald migrate` leaves: the migrations' tables and the migrator's own. */
const heraldTables = async () => [...(await tablesInMigrations(coreMigrationsFolder())), ...HERALD_BOOKKEEPING_TABLES];

test("multi-region DDL: regions, survival goal, then every Herald table placed once", async () => {
  const tables = await heraldTables();
  const sql = multiRegionSql({ regions: ["us-east1", "us-west1", "europe-west1"], database: "herald", survive: "region", tables });
  const lines = statements(sql);
  assert.deepEqual(lines.slice(0, 4), [
    'ALTER DATABASE "herald" SET PRIMARY REGION "us-east1";',
    'ALTER DATABASE "herald" ADD REGION "us-west1";',
    'ALTER DATABASE "herald" ADD REGION "europe-west1";',
    'ALTER DATABASE "herald" SURVIVE REGION FAILURE;',
  ]);
  const placed = new Map<string, string>();
  for (const line of lines.slice(4)) {
    const m = /^ALTER TABLE "([a-z_]+)" SET LOCALITY (REGIONAL BY ROW|GLOBAL);$/.exec(line);
    assert.ok(m, `unexpected statement: ${line}`);
    assert.ok(!placed.has(m[1]!), `${m[1]} placed twice`);
    placed.set(m[1]!, m[2]!);
  }
  assert.deepEqual([...placed.keys()].sort(), [...tables].sort(), "every table herald migrate creates is placed");
  for (const t of ["herald_commands", "herald_outbox"]) assert.equal(placed.get(t), "REGIONAL BY ROW");
  for (const t of HERALD_BOOKKEEPING_TABLES) assert.equal(placed.get(t), "GLOBAL");
  // Tables must be placed after the database has its regions.
  assert.ok(lines.every((l, i) => i < 4 || l.startsWith("ALTER TABLE")));
});

test("multi-region DDL: defaults are zone survival on defaultdb, and one region is enough", () => {
  const lines = statements(multiRegionSql({ regions: "eu-central" }));
  assert.equal(lines[0], 'ALTER DATABASE "defaultdb" SET PRIMARY REGION "eu-central";');
  assert.equal(lines[1], 'ALTER DATABASE "defaultdb" SURVIVE ZONE FAILURE;');
  assert.equal(lines.filter((l) => l.startsWith("ALTER TABLE")).length, Object.keys(HERALD_TABLE_PLACEMENT).length);
});

test("multi-region DDL: bad input is refused with a clear error", async () => {
  const cases: Array<[Parameters<typeof multiRegionSql>[0], RegExp]> = [
    [{ regions: "" }, /at least one region/],
    [{ regions: [] }, /at least one region/],
    [{ regions: "us-east1,,us-west1" }, /region "" must start/],
    [{ regions: 'us-east1,x"; DROP TABLE herald_commands; --' }, /must start with a-z/],
    [{ regions: "US-EAST1" }, /must start with a-z/],
    [{ regions: "a,b,a" }, /"a" is listed twice/],
    [{ regions: "a,b", survive: "region" }, /at least 3 regions, got 2/],
    [{ regions: "a", survive: "planet" as never }, /zone or region/],
    [{ regions: "a", database: "My-DB" }, /database "My-DB"/],
    [{ regions: "a", tables: ["herald_commands", "herald_new_table"] }, /herald_new_table/],
  ];
  for (const [options, message] of cases) assert.throws(() => multiRegionSql(options), message, JSON.stringify(options));
  assert.deepEqual(parseRegions(" a , b "), ["a", "b"]);
});

test("herald sql --multi-region prints the DDL; bad input prints nothing and fails", async () => {
  const ok = await runCli(["sql", "--multi-region", "--regions", "us-east1,us-west1,europe-west1", "--survive", "region"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ALTER DATABASE "defaultdb" SET PRIMARY REGION "us-east1";/);
  assert.match(ok.stdout, /ALTER TABLE "herald_commands" SET LOCALITY REGIONAL BY ROW;/);
  for (const args of [["--regions", ""], ["--regions", "a,a"], ["--regions", "a,b", "--survive", "region"], []]) {
    const bad = await runCli(["sql", "--multi-region", ...args]);
    assert.notEqual(bad.code, 0, `herald sql --multi-region ${args.join(" ")} must fail`);
    assert.equal(bad.stdout, "", "nothing is printed");
    assert.match(bad.stderr, /^herald sql: .*(region|--regions)/);
  }
  const noLayout = await runCli(["sql", "--regions", "a"]);
  assert.equal(noLayout.code, 2);
  assert.match(noLayout.stderr, /--multi-region/);
});

test("multi-region DDL with an app: its tables by row (or GLOBAL when named), its migration tables GLOBAL", () => {
  const lines = statements(multiRegionSql({ regions: "us-east1,europe-west1", app: { domain: "shop", tables: ["orders", "prices"], global: ["prices"] } }));
  assert.ok(lines.includes('ALTER TABLE "orders" SET LOCALITY REGIONAL BY ROW;'));
  assert.ok(lines.includes('ALTER TABLE "prices" SET LOCALITY GLOBAL;'));
  for (const t of ["herald_migration_shop", "herald_migration_shop_lock", "herald_migration_shop_kysely_lock"]) assert.ok(lines.includes(`ALTER TABLE "${t}" SET LOCALITY GLOBAL;`), t);
  assert.throws(() => multiRegionSql({ regions: "a", app: { domain: "shop", tables: ["orders"], global: ["nope"] } }), /--global names nope, which the app's migrations do not create \(orders\)/);
  // Without an app the script says what stays behind.
  assert.match(multiRegionSql({ regions: "a" }), /No app given \(--app\): the app's tables and its herald_migration_<domain> tables stay in the\n-- primary region/);
});

test("herald sql --multi-region --app places the app's tables; --global without --app is refused", async () => {
  const ok = await runCli(["sql", "--multi-region", "--regions", "us-east1,europe-west1", "--app", "./examples/bank/index.ts"], { command: [process.execPath, "--import", "tsx", "src/cli/main.ts"] });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ALTER TABLE "bank_accounts" SET LOCALITY REGIONAL BY ROW;/);
  assert.match(ok.stdout, /ALTER TABLE "herald_migration_bank" SET LOCALITY GLOBAL;/);
  const bad = await runCli(["sql", "--multi-region", "--regions", "a", "--global", "x"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, "");
  assert.match(bad.stderr, /--global names app tables: pass --app too/);
});
