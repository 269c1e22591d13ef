import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { redactUrl } from "../security/redact.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { NatsAuthError, natsAuthConnectionOptions, type NatsAuthOptions } from "./nats-auth.js";
import { startOidcLogin, type OidcLogin, type OidcLoginOptions } from "./oidc-login.js";

/** Server URLs plus credentials and TLS (see NatsAuthOptions; default: none). */
export interface NatsOptions extends NatsAuthOptions {
  /** Comma-separated or listed server URLs. */
  servers: string | string[];
  /** Connection name shown by the server's monitoring. Default `herald`. */
  name?: string;
  /** Default: silent. */
  logger?: Logger;
  /** Log in with an OIDC token through `herald identity serve` (docs/identity.md); excludes the other ways. Default: none. */
  oidc?: Omit<OidcLoginOptions, "logger">;
}

/**
 * Connects and keeps reconnecting forever: a NATS restart must never take a
 * worker down; requests simply pause and the outbox relay catches up.
 */
export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  const servers = typeof options.servers === "string" ? options.servers.split(",").map((s) => s.trim()) : options.servers;
  const logger = options.logger ?? silentLogger;
  let login: OidcLogin | undefined;
  if (options.oidc) {
    if (options.user || options.token || options.nkeySeedFile || options.credsFile) throw new NatsAuthError("use one NATS authentication: OIDC login or user/password, token, NKey seed file, creds file");
    login = await startOidcLogin({ ...options.oidc, logger });
  }
  const nc = await connect({
    servers,
    name: options.name ?? "herald",
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: false,
    // Keep trying through an auth failure too: while credentials rotate, the
    // server and the file may disagree for a moment.
    ignoreAuthErrorAbort: true,
    // Each request (a PubAck wait among them) would otherwise capture a stack
    // trace up front, in case it fails: measurable CPU per event under load.
    noAsyncTraces: true,
    ...natsAuthConnectionOptions(options, servers),
    ...(login ? { authenticator: login.authenticator } : {}),
  });
  login?.attach(nc);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "reconnect") logger.warn({ nats: status.type, server: redactUrl(String((status as { server?: string }).server ?? "")) }, `nats ${status.type}`);
    }
  })().catch(() => undefined);
  return nc;
}
