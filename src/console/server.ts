import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Kysely } from "kysely";
import type { DialectName } from "../db/connection.js";
import type { HeraldTables } from "../db/schema.js";
import type { PruneOptions } from "../operations/prune.js";
import { startPruner } from "../operations/pruner.js";
import { defaultStreamName } from "../protocol/subjects.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { createConsoleApp } from "./app.js";
import type { OperatorAuthenticator } from "./operator-auth.js";
import { createSessions } from "./sessions.js";

export interface ConsoleOptions {
  /** Database, as the console's role (read-only unless actions are on). Required. */
  db: Kysely<HeraldTables>;
  /** Which server `db` is. Required. */
  dialect: DialectName;
  /** NATS connection (yours to close). Required. */
  nc: NatsConnection;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 8090. */
  port?: number;
  /** Turn on redrive, replay and prune. Default false. */
  actions?: boolean;
  /** How operators sign in; required when `actions` is on. */
  authenticator?: OperatorAuthenticator;
  /** Jaeger UI base URL. Default http://localhost:16686. */
  jaegerUrl?: string;
  /** A domain's stream. Default `<DOMAIN>_EVENTS`. */
  streamOf?(domain: string): string;
  /** Retentions of the prune action. Default: the prune defaults. */
  retention?: Pick<PruneOptions, "eventRetentionHours" | "inboxRetentionHours" | "deadLetterRetentionHours" | "operatorActionRetentionHours">;
  /** With actions on, how often the console prunes its operator log past retention, ms. Default 600000; 0 turns it off. */
  pruneIntervalMs?: number;
  /** Largest replay in events. Default 10000. */
  maxReplayEvents?: number;
  /** Send the session cookie over HTTPS only (behind a TLS proxy). Default false. */
  secureCookie?: boolean;
  /** Default: silent. */
  logger?: Logger;
}

/** A running console. */
export interface Console {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and ends open connections (live streams included). */
  close(): Promise<void>;
}

/** Serves the operator console over HTTP. */
export async function startConsole(options: ConsoleOptions): Promise<Console> {
  if (options.actions && !options.authenticator) throw new TypeError("startConsole: actions need an authenticator (the operator credential)");
  const app = createConsoleApp({
    db: options.db,
    dialect: options.dialect,
    nc: options.nc,
    streamOf: options.streamOf ?? defaultStreamName,
    actions: options.actions ?? false,
    authenticator: options.actions ? options.authenticator : undefined,
    sessions: createSessions(),
    jaegerUrl: (options.jaegerUrl ?? "http://localhost:16686").replace(/\/+$/, ""),
    retention: options.retention ?? {},
    maxReplayEvents: options.maxReplayEvents ?? 10_000,
    secureCookie: options.secureCookie ?? false,
    logger: options.logger ?? silentLogger,
  });
  const host = options.host ?? "127.0.0.1";
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 8090 }, () => resolve(s as Server)) as Server;
    s.once("error", reject);
  });
  const port = (server.address() as AddressInfo).port;
  // The operator log is the console's own table: with actions on (and so its DELETE grant), the console prunes it.
  const pruneIntervalMs = options.pruneIntervalMs ?? 600_000;
  const pruner =
    options.actions && pruneIntervalMs > 0
      ? startPruner({ db: options.db, domain: undefined, targets: ["operatorActions"], intervalMs: pruneIntervalMs, ...options.retention, logger: options.logger })
      : undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    async close() {
      await pruner?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
