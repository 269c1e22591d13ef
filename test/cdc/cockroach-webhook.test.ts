import { before } from "node:test";
import { makeSelfSignedCert, type SelfSignedCert } from "../kit/tls-cert.js";
import { runSourceConformance } from "./conformance.js";
import { cockroachFixture } from "./cockroach-fixture.js";

// The CockroachDB webhook source against the shared conformance suite. The
// changefeed is simulated from CockroachDB's documented payloads and retry
// behaviour (test/cdc/cockroach-feed.ts), not a live CockroachDB.

let cert: SelfSignedCert;
before(async () => {
  cert = await makeSelfSignedCert();
});

runSourceConformance("cockroachdb", () => cockroachFixture(cert));
