import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { foreignKeyBatchViolations } from "./migration-rule.js";

// docs/cockroachdb.md, "Rules for migrations": the guard over every migration
// file Herald and its examples ship, and over files that break the rule.

const root = fileURLToPath(new URL("../../", import.meta.url));

async function migrationFiles(): Promise<string[]> {
  const folders = [join(root, "migrations"), ...(await readdir(join(root, "examples"))).map((e) => join(root, "examples", e, "migrations"))];
  const files: string[] = [];
  for (const folder of folders) {
    const names = await readdir(folder).catch(() => [] as string[]);
    files.push(...names.filter((n) => n.endsWith(".sql")).map((n) => join(folder, n)));
  }
  return files;
}

test("every migration file Herald and its examples ship keeps the foreign-key batch rule", async () => {
  const files = await migrationFiles();
  assert.ok(files.length >= 4, `found only ${files.length} migration files`);
  for (const file of files) assert.deepEqual(foreignKeyBatchViolations(await readFile(file, "utf8")), [], file);
});

test("a new table with a foreign key to an existing one, then used in the same file, is refused", () => {
  const bad = `
    CREATE TABLE IF NOT EXISTS refunds (
      id UUID PRIMARY KEY,
      account_id TEXT NOT NULL REFERENCES bank_accounts (id)
    );
    CREATE INDEX IF NOT EXISTS refunds_account ON refunds (account_id);
    INSERT INTO refunds (id, account_id) VALUES ('00000000-0000-4000-8000-000000000000', 'a');`;
  const found = foreignKeyBatchViolations(bad);
  assert.equal(found.length, 2);
  assert.match(found[0]!, /CREATE INDEX .* uses refunds, created in the same file with a foreign key to the existing table bank_accounts: move it to a migration file of its own/);
  assert.match(found[1]!, /INSERT INTO refunds/);
  // Quoted and schema-qualified names, a table-level FOREIGN KEY clause.
  const quoted = `CREATE TABLE "public"."refunds" (id UUID PRIMARY KEY, a TEXT, FOREIGN KEY (a) REFERENCES public.bank_accounts (id)); ALTER TABLE "refunds" ADD COLUMN note TEXT`;
  assert.equal(foreignKeyBatchViolations(quoted).length, 1);
});

test("what the rule allows: every table new in the file, a foreign key alone in its file, unrelated statements after it", () => {
  const allNew = `
    CREATE TABLE parents (id UUID PRIMARY KEY);
    CREATE TABLE children (id UUID PRIMARY KEY, parent_id UUID REFERENCES parents (id));
    CREATE INDEX children_parent ON children (parent_id);`;
  assert.deepEqual(foreignKeyBatchViolations(allNew), []);
  assert.deepEqual(foreignKeyBatchViolations("CREATE TABLE refunds (id UUID PRIMARY KEY, a TEXT REFERENCES bank_accounts (id));"), []);
  const unrelated = `CREATE TABLE refunds (id UUID PRIMARY KEY, a TEXT REFERENCES bank_accounts (id)); CREATE INDEX other_idx ON refunds_archive (a); -- refunds in a comment`;
  assert.deepEqual(foreignKeyBatchViolations(unrelated), [], "a longer name and a comment are not uses");
  assert.deepEqual(foreignKeyBatchViolations("CREATE TABLE tree (id UUID PRIMARY KEY, parent UUID REFERENCES tree (id)); CREATE INDEX tree_parent ON tree (parent);"), [], "a self-reference is new");
});
