import assert from "node:assert/strict";
import { test } from "node:test";
import { enterCommitAll, raceDeadline, type CommandDeadline } from "../../src/commands/command-deadline.js";

/** What a command's deadline answers depends only on whether its COMMIT went out. */
const never = () => new Promise<string>(() => undefined);

test("the work's result wins when it comes first, and the timer is cleared", async () => {
  const race = raceDeadline(Date.now() + 10_000, async () => "done", (o) => o);
  assert.equal(await race.answer, "done");
  assert.equal(race.deadline.expired, false);
});

test("at the deadline before COMMIT: unavailable, and COMMIT is refused from then on", async () => {
  let seen!: CommandDeadline;
  let told = 0;
  const race = raceDeadline(Date.now() + 20, (d) => {
    seen = d;
    d.onExpire(() => told++);
    return never();
  }, (o) => o);
  assert.equal(await race.answer, "unavailable");
  assert.equal(seen.expired, true);
  assert.equal(told, 1, "listeners hear of the answer once");
  assert.equal(seen.enterCommit(), false, "nothing may commit after an unavailable answer");
});

test("at the deadline with COMMIT out and unanswered, or answered but not yet returned: unknown_outcome", async () => {
  const out = raceDeadline(Date.now() + 20, (d) => (d.enterCommit(), never()), (o) => o);
  assert.equal(await out.answer, "unknown_outcome");
  const committed = raceDeadline(Date.now() + 20, (d) => (d.enterCommit(), d.leaveCommit(true), never()), (o) => o);
  assert.equal(await committed.answer, "unknown_outcome");
  const refused = raceDeadline(Date.now() + 20, (d) => (d.enterCommit(), d.leaveCommit(false), never()), (o) => o);
  assert.equal(await refused.answer, "unavailable", "a COMMIT that certainly failed leaves nothing unknown");
});

test("a batch enters COMMIT for all its commands or for none", async () => {
  const live = raceDeadline(Date.now() + 300, never, (o) => o);
  const gone = raceDeadline(Date.now() + 10, never, (o) => o);
  await gone.answer;
  assert.equal(enterCommitAll([live.deadline, gone.deadline]), false);
  assert.equal(live.deadline.enterCommit() && (live.deadline.leaveCommit(false), true), true, "the refusal left the live one untouched");
  const later = raceDeadline(Date.now() + 300, never, (o) => o);
  assert.equal(enterCommitAll([live.deadline, later.deadline]), true);
  assert.deepEqual(await Promise.all([live.answer, later.answer]), ["unknown_outcome", "unknown_outcome"], "both are in COMMIT now");
});

test("a listener can unregister before the deadline", async () => {
  let told = 0;
  const race = raceDeadline(Date.now() + 20, (d) => {
    const stop = d.onExpire(() => told++);
    stop();
    return never();
  }, (o) => o);
  await race.answer;
  assert.equal(told, 0);
});
