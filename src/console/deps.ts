import type { NatsConnection } from "@nats-io/nats-core";
import type { Kysely } from "kysely";
import type { DialectName } from "../db/connection.js";
import type { HeraldTables } from "../db/schema.js";
import type { PruneOptions } from "../operations/prune.js";
import type { Logger } from "../telemetry/logger.js";
import type { OperatorAuthenticator } from "./operator-auth.js";
import type { Sessions } from "./sessions.js";

/** What every route of the console uses; fixed for the server's lifetime. */
export interface ConsoleDeps {
  db: Kysely<HeraldTables>;
  dialect: DialectName;
  nc: NatsConnection;
  /** The stream of a domain's events. */
  streamOf(domain: string): string;
  /** Actions (redrive, replay, prune) are on; they still need a signed-in operator. */
  actions: boolean;
  /** How operators sign in; undefined when actions are off. */
  authenticator: OperatorAuthenticator | undefined;
  sessions: Sessions;
  /** Jaeger UI base URL, without a trailing slash. */
  jaegerUrl: string;
  /** Retentions a prune action applies. */
  retention: Pick<PruneOptions, "eventRetentionHours" | "inboxRetentionHours" | "deadLetterRetentionHours" | "operatorActionRetentionHours">;
  /** Largest replay the console runs, in events. */
  maxReplayEvents: number;
  /** The session cookie is sent over HTTPS only. */
  secureCookie: boolean;
  logger: Logger;
}
