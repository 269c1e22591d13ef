import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { isServerHelper, listeningInodes, parseIo, processIo, processTree, statCpuTicks } from "../../bench/proc-stats.js";
import { statementCount } from "../../bench/instrument/statement-count.js";

test("CPU ticks are read after the command name, whatever it holds", () => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  const stat = "4242 (node (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 1234 56 0 0 20 0 11 0";
  assert.equal(statCpuTicks(stat), 1290);
  assert.equal(statCpuTicks("garbage"), undefined);
});

test("write and read system calls come from /proc/<pid>/io, and this process's are readable", () => {
  const text = "rchar: 10\nwchar: 20\nsyscr: 3\nsyscw: 7\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";
  assert.deepEqual(parseIo(text), { syscw: 7, syscr: 3 });
  assert.equal(parseIo("rchar: 10\n"), undefined);
  const before = processIo(process.pid);
  assert.ok(before, "own /proc/self/io is readable");
  process.stdout.write("\n");
  assert.ok(processIo(process.pid)!.syscw > before.syscw, "a write to stdout is a write system call");
});

test("the listening socket of a port is found in /proc/net/tcp", () => {
  const table = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:107E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0 100 0 0 10 0",
    "   1: 0100007F:107E 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 6262 1 0 100 0 0 10 0",
    "   2: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 7373 1 0 100 0 0 10 0",
  ].join("\n");
  assert.deepEqual(listeningInodes(table, 4222), [5151], "the established connection on the same port is not a listener");
  assert.deepEqual(listeningInodes(table, 5432), [7373]);
  assert.deepEqual(listeningInodes(table, 80), []);
});

test("PostgreSQL's helpers count for a database, other databases' sessions do not", () => {
  const db = "herald_bench_0a1b2c";
  assert.equal(isServerHelper("postgres: 15/main: walwriter", db), true);
  assert.equal(isServerHelper("postgres: checkpointer", db), true);
  assert.equal(isServerHelper(`postgres: autovacuum worker ${db}`, db), true);
  assert.equal(isServerHelper("postgres: autovacuum worker other_db", db), false);
  assert.equal(isServerHelper(`postgres: 15/main: postgres ${db} 127.0.0.1(51234) idle`, db), false, "client backends are counted by their sessions");
  assert.equal(isServerHelper("postgres: 15/main: postgres other_db 127.0.0.1(51234) idle in transaction", db), false);
  assert.equal(isServerHelper("postgres: postgres other_db [local] idle", db), false);
  assert.equal(isServerHelper("node dist/src/cli/main.js start", db), false);
});

test("a process tree holds the children of a process", async () => {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" });
  try {
    await once(child, "spawn");
    const tree = processTree(process.pid);
    assert.equal(tree[0], process.pid);
    assert.ok(tree.includes(child.pid!), "the spawned child is in the tree");
  } finally {
    child.kill("SIGKILL");
  }
});

test("statements in a query text: semicolons outside quotes", () => {
  assert.equal(statementCount(undefined), 0);
  assert.equal(statementCount("SELECT 1"), 1);
  assert.equal(statementCount("SELECT 1;"), 1);
  assert.equal(statementCount("START TRANSACTION ISOLATION LEVEL SERIALIZABLE; SAVEPOINT s; INSERT INTO t VALUES ('a;b', 'it''s; fine'); COMMIT"), 4);
  assert.equal(statementCount(`SELECT "odd;name" FROM t; COMMIT ;  `), 2);
});
