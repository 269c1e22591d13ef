import { randomBytes } from "node:crypto";
import type { ChangeSource } from "../../src/cdc/change-source.js";
import { createCockroachSource, type CockroachSourceOptions, type CockroachWebhookSource } from "../../src/cdc/cockroach-source.js";
import type { SelfSignedCert } from "../kit/tls-cert.js";
import type { SourceFixture } from "./conformance.js";
import { SimulatedChangefeed, type SimulatedFeedOptions } from "./cockroach-feed.js";

export const CDC_TABLES = ["cdc_a", "cdc_b"];

export interface CockroachFixture extends SourceFixture {
  readonly source: CockroachWebhookSource;
  readonly feed: SimulatedChangefeed;
  readonly authHeader: string;
  url(): string;
}

/**
 * The conformance fixture of the webhook source: `commit` has the simulated
 * changefeed post the documented payloads over HTTPS. CockroachDB never sends
 * uncommitted writes, so `rollback` sends nothing.
 */
export async function cockroachFixture(
  cert: SelfSignedCert,
  extra: { source?: Partial<CockroachSourceOptions>; feed?: Partial<SimulatedFeedOptions> } = {},
): Promise<CockroachFixture> {
  const authHeader = `Basic ${randomBytes(12).toString("base64")}`;
  const make = () =>
    createCockroachSource({ port: 0, tls: cert, authHeader, tables: CDC_TABLES, ...extra.source });
  let current = make();
  const url = () => {
    try {
      return `https://127.0.0.1:${current.address().port}/changefeed`;
    } catch {
      return "https://127.0.0.1:1/changefeed"; // not listening (between stop and start): refused, retried
    }
  };
  const feed = new SimulatedChangefeed({ url, authHeader, ca: cert.cert, ...extra.feed });
  return {
    get source() {
      return current;
    },
    feed,
    authHeader,
    url,
    tables: CDC_TABLES,
    async commit(writes) {
      feed.commit(writes);
    },
    async rollback() {},
    async reopen(): Promise<ChangeSource> {
      await current.stop();
      current = make();
      return current;
    },
    async dispose() {
      feed.close();
      await current.stop();
    },
  };
}
