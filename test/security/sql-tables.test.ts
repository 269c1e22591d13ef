import assert from "node:assert/strict";
import { test } from "node:test";
import { bankApp } from "../../examples/bank/index.js";
import { coreMigrationsFolder } from "../../src/db/migrator.js";
import { grantsSql } from "../../src/security/grants.js";
import { quoteIdent } from "../../src/security/naming.js";
import { tablesCreatedBy, tablesInMigrations } from "../../src/security/sql-tables.js";

test("tables are found from CREATE TABLE, never from comments, strings or function bodies", () => {
  const tables = tablesCreatedBy(`
-- CREATE TABLE in_a_comment (x INT);
/* CREATE TABLE in_a_block_comment (x INT) */
CREATE TABLE IF NOT EXISTS herald_commands (id UUID);
create table Public.Orders (note TEXT DEFAULT 'CREATE TABLE in_a_string (');
CREATE TABLE "Weird""; DROP TABLE x; --" (x INT);
CREATE TEMP TABLE scratch (x INT);
DO $body$ BEGIN CREATE TABLE in_a_function (x INT); END $body$;
CREATE TABLE gone (x INT);
DROP TABLE IF EXISTS gone, never_made CASCADE;
CREATE TABLE old_name (x INT);
ALTER TABLE old_name RENAME TO new_name;
`);
  assert.deepEqual(tables, ["herald_commands", "orders", 'Weird"; DROP TABLE x; --', "new_name"]);
});

test("Herald's and the bank app's migrations", async () => {
  const herald = await tablesInMigrations(coreMigrationsFolder());
  assert.ok(herald.includes("herald_commands") && herald.includes("herald_outbox"), herald.join(","));
  assert.deepEqual(await tablesInMigrations(bankApp.migrations!), ["bank_accounts", "bank_reservations"]);
});

test("odd table names stay one quoted identifier in the generated SQL", () => {
  assert.equal(quoteIdent('a"; DROP TABLE b; --'), '"a""; DROP TABLE b; --"');
  const text = grantsSql({ domain: "shop", heraldTables: ["herald_commands"], domainTables: ['x"; DROP TABLE y; --'], dialect: "postgresql" });
  assert.match(text, /ON TABLE "x""; DROP TABLE y; --" TO "herald_shop_worker";/);
  assert.throws(() => grantsSql({ domain: "shop", role: "Shop Admin", heraldTables: [], domainTables: [] }), /role "Shop Admin" must be/);
  const newline = grantsSql({ domain: "shop", heraldTables: ["t\nDROP TABLE y;"], domainTables: [] });
  assert.match(newline, /^-- {3}t\?DROP TABLE y;$/m, "a name cannot end a comment line");
  assert.match(newline, /ON TABLE "t\nDROP TABLE y;" TO/, "inside quotes a line break is just part of the name");
});
