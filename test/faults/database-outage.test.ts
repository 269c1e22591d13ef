import { test } from "node:test";
import { assertHeld } from "./scenario.js";
import { databaseOutage, SHORT } from "./scenarios.js";

test("database connections killed and the database restarted: no confirmed command lost or doubled", async () => {
  assertHeld(await databaseOutage(SHORT), SHORT.transfers);
});
