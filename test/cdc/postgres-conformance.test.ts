import { after, before } from "node:test";
import type { PrivatePostgres } from "../kit/postgres-server.js";
import { runSourceConformance } from "./conformance.js";
import { postgresFixture, startLogicalPostgres } from "./postgres-fixture.js";

let server: PrivatePostgres;
before(async () => {
  server = await startLogicalPostgres();
});
after(async () => {
  await server?.dispose();
});

runSourceConformance("postgres", () => postgresFixture(server));
