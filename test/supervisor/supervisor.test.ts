import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { ranLongEnough, restartDelayMs } from "../../src/supervisor/backoff.js";
import { parseProcessCount, ProcessCountError } from "../../src/supervisor/process-count.js";
import { startSupervisor } from "../../src/supervisor/supervisor.js";
import { waitFor } from "../kit/wait.js";

/** A worker stand-in: says it is ready over IPC, then waits; exits with `code` on SIGTERM. */
const worker = (options: { ready?: boolean; code?: number } = {}) =>
  spawn(
    process.execPath,
    [
      "-e",
      `${options.ready === false ? "process.exit(3)" : 'process.send({ type: "herald-worker-ready" })'};
       process.on("SIGTERM", () => process.exit(${options.code ?? 0}));
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ["ignore", "ignore", "inherit", "ipc"] },
  );

test("--processes takes a count from 1 to 64 or auto (one per core)", () => {
  assert.equal(parseProcessCount("1"), 1);
  assert.equal(parseProcessCount("64"), 64);
  assert.equal(parseProcessCount("auto", () => 2), 2);
  assert.equal(parseProcessCount("auto", () => 512), 64);
  for (const bad of ["0", "65", "", "two", "2.0", " 2"]) assert.throws(() => parseProcessCount(bad), ProcessCountError, bad);
});

test("the restart delay doubles per crash in a row up to its cap, and starts over after a long run", () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => restartDelayMs(n)), [250, 500, 1000, 2000]);
  assert.equal(restartDelayMs(40), 30_000);
  assert.equal(restartDelayMs(3, { backoffMs: 10, maxBackoffMs: 25 }), 25);
  assert.equal(ranLongEnough(0, 60_000), true);
  assert.equal(ranLongEnough(0, 59_999), false);
  assert.equal(ranLongEnough(undefined, 1e9), false, "a process that never got ready never ran long enough");
});

test("a crashed process is started again after the backoff; stop ends every process", async () => {
  let started = 0;
  const supervisor = startSupervisor({ processes: 2, backoffMs: 20, start: () => (started++, worker()) });
  await supervisor.ready;
  const [a, b] = supervisor.pids();
  process.kill(a!, "SIGKILL");
  await waitFor(() => supervisor.restarts === 1 && supervisor.pids().length === 2 && !supervisor.pids().includes(a!), { what: "the restart" });
  assert.ok(supervisor.pids().includes(b!), "the other process kept running");
  assert.equal(started, 3);
  const pids = supervisor.pids();
  assert.equal(await supervisor.stop(5000), true);
  for (const pid of pids) assert.throws(() => process.kill(pid, 0));
});

test("a process that exits before it is ready fails the start and stops the others; an unclean stop says so", async () => {
  let index = 0;
  const failing = startSupervisor({ processes: 2, start: () => worker({ ready: index++ === 0 }) });
  await assert.rejects(failing.ready, /worker process 1 exited \(3\) before it was ready/);
  assert.deepEqual(failing.pids(), [], "the ready one was stopped too");

  const unclean = startSupervisor({ processes: 1, start: () => worker({ code: 1 }) });
  await unclean.ready;
  assert.equal(await unclean.stop(5000), false);
});
