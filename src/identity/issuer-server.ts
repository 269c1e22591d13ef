import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { silentLogger } from "../telemetry/logger.js";
import { answerCredentialsRequest, type CredentialsContext, type IssuerAnswer } from "./credentials-request.js";
import { createRateLimiter } from "./rate-limit.js";

export interface IssuerServerOptions extends Omit<CredentialsContext, "logger"> {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 8444. */
  port?: number;
  /** Server certificate and key (PEM text). Required unless `insecureLoopback`. */
  tls?: { cert: string; key: string };
  /** Serve plain HTTP; only allowed on a loopback host (tests, local development). Default false. */
  insecureLoopback?: boolean;
  /** Largest request body in bytes (413 past it). Default 4096. */
  maxBodyBytes?: number;
  /** Largest request head (all headers) in bytes; Node answers 431 past it. Default 32768. */
  maxHeaderBytes?: number;
  /** Requests per second per client address (429 past it), and the burst allowed. Default 5 and 20. */
  rate?: { perSecond: number; burst: number };
  /** Requests worked on at once; more get 503. Default 64. */
  maxInFlight?: number;
  /** Default: silent. */
  logger?: CredentialsContext["logger"];
}

export interface IssuerServer {
  /** The URL clients use (`https://host:port`). */
  readonly url: string;
  close(): Promise<void>;
}

export const CREDENTIALS_PATH = "/v1/nats/credentials";
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Reads at most `max` bytes of a body; undefined when it is larger. */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    // Past the limit the rest is read and dropped (the request timeout bounds it), so the 413 reaches the client.
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > max) {
      req.resume();
      return resolve(undefined);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) resolve(undefined);
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, answer: IssuerAnswer, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(text), ...extra });
  res.end(text);
}

const error = (status: number, code: string, message: string): IssuerAnswer => ({ status, body: { error: { code, message } } });

/**
 * `herald identity serve`: one HTTPS operation, `POST /v1/nats/credentials`.
 * Bounded on every side: head size, body size, requests per client and in
 * flight. Logs who got what, never a token.
 */
export async function startIssuerServer(options: IssuerServerOptions): Promise<IssuerServer> {
  const host = options.host ?? "127.0.0.1";
  if (!options.tls && !(options.insecureLoopback && LOOPBACK.has(host))) {
    throw new TypeError("the issuer serves HTTPS: give a certificate and key (plain HTTP only on a loopback host, when asked for)");
  }
  const logger = options.logger ?? silentLogger;
  const ctx: CredentialsContext = { policy: options.policy, verifier: options.verifier, dir: options.dir, db: options.db, logger };
  const maxBody = options.maxBodyBytes ?? 4096;
  const limiter = createRateLimiter(options.rate ?? { perSecond: 5, burst: 20 });
  const maxInFlight = options.maxInFlight ?? 64;
  let inFlight = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Answers given before the body is read still drain it, so a kept-alive connection stays usable.
    res.once("finish", () => req.resume());
    const path = (req.url ?? "").split("?")[0];
    if (path !== CREDENTIALS_PATH) return send(res, error(404, "not_found", `the only operation is POST ${CREDENTIALS_PATH}`));
    if (req.method !== "POST") return send(res, error(405, "method_not_allowed", "use POST"), { allow: "POST" });
    if (!limiter.take(req.socket.remoteAddress ?? "?")) return send(res, error(429, "rate_limited", "too many requests; try again shortly"), { "retry-after": "1" });
    if (inFlight >= maxInFlight) return send(res, error(503, "busy", "too many requests in flight; try again shortly"), { "retry-after": "1" });
    inFlight++;
    try {
      const body = await readBody(req, maxBody);
      if (body === undefined) return send(res, error(413, "body_too_large", `the body must be at most ${maxBody} bytes`), { connection: "close" });
      send(res, await answerCredentialsRequest(ctx, req.headers.authorization, body));
    } finally {
      inFlight--;
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      // The message may come from the database driver: logged, never the token or body.
      logger.error({ err: (err as Error).message }, "credentials request failed");
      if (!res.headersSent) send(res, error(503, "unavailable", "the issuer cannot answer now; try again"));
    });
  };
  const serverOptions = { maxHeaderSize: options.maxHeaderBytes ?? 32 * 1024, requestTimeout: 10_000, headersTimeout: 5_000 };
  const server: Server = options.tls ? createHttpsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, listener) : createHttpServer(serverOptions, listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8444, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `${options.tls ? "https" : "http"}://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
