import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../kit/cli.js";

test("herald cdc setup prints the publication and slot SQL; bad input is refused before anything runs", async () => {
  const setup = await runCli(["cdc", "setup", "--table", "bank_accounts,orders", "--slot", "s1", "--publication", "p1", "--full-before-images"]);
  assert.equal(setup.code, 0, setup.stderr);
  assert.match(setup.stdout, /^CREATE PUBLICATION p1 FOR TABLE public\.bank_accounts, public\.orders;$/m);
  assert.match(setup.stdout, /^SELECT pg_create_logical_replication_slot\('s1', 'pgoutput'\);$/m);
  assert.match(setup.stdout, /^ALTER TABLE public\.orders REPLICA IDENTITY FULL;$/m);
  for (const [args, pattern] of [
    [["cdc", "setup", "--table", "x'); DROP TABLE y; --"], /CDC table .* must be 1-64 characters/],
    [["cdc", "setup", "--table", "t", "--slot", "Bad-Slot"], /slot "Bad-Slot" must be/],
    [["cdc", "setup"], /name the tables to watch/],
    [["cdc", "setup", "--table", "t", "--source", "mysql"], /--source must be postgres or cockroachdb/],
    [["cdc", "setup", "--table", "public.dup,other.dup"], /tables public\.dup and other\.dup are both named "dup"; CDC subjects .* name the table without its schema/],
    [["cdc", "setup", "--table", "dup,public.dup"], /tables public\.dup and public\.dup are both named "dup"/],
    [["cdc", "frobnicate"], /unknown cdc subcommand/],
    [["cdc", "start", "--table", "t"], /--domain is required/],
  ] as const) {
    const r = await runCli([...args], { env: { HERALD_DOMAIN: undefined, HERALD_CDC_TABLES: undefined } });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});

test("herald cdc status: a missing slot is a failure (exit 1); --help names the exit codes", async () => {
  const status = await runCli(["cdc", "status", "--slot", "herald_no_such_slot"], { env: { HERALD_CDC_DATABASE_URL: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres" } });
  assert.equal(status.code, 1, status.stderr);
  assert.match(status.stderr, /no replication slot "herald_no_such_slot"/);
  const help = await runCli(["cdc", "status", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: herald cdc status/);
  assert.match(help.stdout, /3 inactive, lost, retaining too much WAL,\s+or a watched table missing from the publication/);
});
