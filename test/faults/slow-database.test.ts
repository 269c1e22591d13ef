import { test } from "node:test";
import { assertHeld } from "./scenario.js";
import { slowDatabase, SHORT } from "./scenarios.js";

test("a slow, then stalled database: deadlines fire, clients retry, nothing doubles", async () => {
  assertHeld(await slowDatabase(SHORT), SHORT.transfers);
});
