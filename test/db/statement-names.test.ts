import assert from "node:assert/strict";
import { test } from "node:test";
import { createStatementNames } from "../../src/db/statement-names.js";

test("a data statement gets a name once it has run hotAfter times, the same name after that", () => {
  const names = createStatementNames({ hotAfter: 3 });
  const text = "select id from t where id = $1";
  assert.equal(names.nameFor(text), undefined);
  assert.equal(names.nameFor(text), undefined);
  const name = names.nameFor(text);
  assert.match(name ?? "", /^herald_\d+$/);
  assert.equal(names.nameFor(text), name);
  assert.notEqual(names.nameFor("update t set n = $1"), name, "other texts are counted on their own");
});

test("DDL, session commands and long texts are never named", () => {
  const names = createStatementNames({ hotAfter: 1, maxLength: 50 });
  assert.equal(names.nameFor("CREATE TABLE x (id INT)"), undefined);
  assert.equal(names.nameFor("SET LOCAL lock_timeout = $1"), undefined);
  assert.equal(names.nameFor(`select ${"x, ".repeat(40)}1`), undefined);
  assert.ok(names.nameFor("  WITH c AS (select $1) select * from c"));
});

test("names and counts are bounded: texts that vary stay unnamed once the limits are reached", () => {
  const names = createStatementNames({ hotAfter: 2, maxStatements: 2, maxTracked: 3 });
  for (const t of ["select 1 where $1", "select 2 where $1", "select 3 where $1"]) {
    names.nameFor(t);
    names.nameFor(t);
  }
  assert.ok(names.nameFor("select 1 where $1"));
  assert.ok(names.nameFor("select 2 where $1"));
  assert.equal(names.nameFor("select 3 where $1"), undefined, "at most two names");
  const counted = createStatementNames({ hotAfter: 2, maxTracked: 2 });
  counted.nameFor("select 1 where $1");
  counted.nameFor("select 2 where $1");
  counted.nameFor("select 3 where $1"); // not tracked: the table is full
  assert.equal(counted.nameFor("select 3 where $1"), undefined, "an untracked text never becomes hot");
  assert.ok(counted.nameFor("select 1 where $1"), "a tracked one still does");
});
