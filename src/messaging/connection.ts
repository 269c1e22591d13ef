import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { silentLogger, type Logger } from "../telemetry/logger.js";

export interface NatsOptions {
  /** Comma-separated or listed server URLs. */
  servers: string | string[];
  /** Connection name shown by the server's monitoring. Default `herald`. */
  name?: string;
  /** Default: silent. */
  logger?: Logger;
}

/**
 * Connects and keeps reconnecting forever: a NATS restart must never take a
 * worker down; requests simply pause and the outbox relay catches up.
 */
export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  const servers = typeof options.servers === "string" ? options.servers.split(",").map((s) => s.trim()) : options.servers;
  const logger = options.logger ?? silentLogger;
  const nc = await connect({
    servers,
    name: options.name ?? "herald",
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: false,
  });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "reconnect") logger.warn({ nats: status.type, server: (status as { server?: string }).server }, `nats ${status.type}`);
    }
  })().catch(() => undefined);
  return nc;
}
