import { test } from "node:test";
import { assertHeld } from "./scenario.js";
import { restartNats, SHORT } from "./scenarios.js";

test("NATS server restart during load: workers reconnect, the relay catches up", async () => {
  assertHeld(await restartNats(SHORT), SHORT.transfers);
});
