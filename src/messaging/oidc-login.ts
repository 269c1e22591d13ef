import { readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { jwtAuthenticator, type Authenticator, type NatsConnection } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import { silentLogger, type Logger } from "../telemetry/logger.js";

/** How a NATS connection logs in with an OIDC token through `herald identity serve`. */
export interface OidcLoginOptions {
  /** File holding the OIDC token (a projected service-account token, say); read again for every fetch. Required. */
  tokenFile: string;
  /** Base URL of the issuer (`https://issuer:8444`). Required. */
  issuerUrl: string;
  /** Domain whose role to ask for. Required. */
  domain: string;
  /** `worker`, `client`, `cdc`, `operator` or `consumer:<durable>`. Required. */
  role: string;
  /** CA certificate (PEM file) the issuer's certificate is checked with. Default: the system's CAs. */
  caFile?: string;
  /** Time allowed for one request to the issuer, in ms. Default 10000. */
  timeoutMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

/** The issuer refused or could not be reached; `code` is the issuer's error code when it answered. */
export class IdentityLoginError extends Error {
  override readonly name = "IdentityLoginError";
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

function post(url: URL, body: string, headers: Record<string, string>, ca: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: "POST", headers: { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }, ...(ca ? { ca } : {}), timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8").slice(0, 64 * 1024) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("the identity issuer did not answer in time")));
    req.on("error", reject);
    req.end(body);
  });
}

/** A user JWT for `publicKey`, fetched with the token the file holds now. */
export async function fetchNatsCredentials(options: OidcLoginOptions, publicKey: string): Promise<{ jwt: string; expiresAt: Date }> {
  let token: string;
  try {
    token = (await readFile(options.tokenFile, "utf8")).trim();
  } catch (err) {
    throw new IdentityLoginError(`cannot read the OIDC token file ${options.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  if (!token) throw new IdentityLoginError(`the OIDC token file ${options.tokenFile} is empty`);
  const ca = options.caFile ? await readFile(options.caFile, "utf8") : undefined;
  const url = new URL("/v1/nats/credentials", options.issuerUrl);
  const body = JSON.stringify({ publicKey, domain: options.domain, role: options.role });
  let answer;
  try {
    answer = await post(url, body, { authorization: `Bearer ${token}` }, ca, options.timeoutMs ?? 10_000);
  } catch (err) {
    throw new IdentityLoginError(`cannot reach the identity issuer at ${url.origin}: ${(err as Error).message}`);
  }
  let parsed: { jwt?: unknown; expiresAt?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    throw new IdentityLoginError(`the identity issuer answered ${answer.status} without JSON`, answer.status);
  }
  if (answer.status !== 200 || typeof parsed.jwt !== "string" || typeof parsed.expiresAt !== "string") {
    const code = typeof parsed.error?.code === "string" ? parsed.error.code : undefined;
    const message = typeof parsed.error?.message === "string" ? parsed.error.message : "no credentials";
    throw new IdentityLoginError(`the identity issuer refused ${options.role} of ${options.domain} (${answer.status} ${code ?? ""}): ${message}`, answer.status, code);
  }
  return { jwt: parsed.jwt, expiresAt: new Date(parsed.expiresAt) };
}

/** A connection's OIDC login: its NKey pair (in memory only) and current user JWT. */
export interface OidcLogin {
  /** For `connect({ authenticator })`: nats.js calls it on every (re)connect. */
  readonly authenticator: Authenticator;
  /** When the current user JWT expires. */
  readonly expiresAt: Date;
  /** Fetches a fresh user JWT now, reading the token file again. */
  refresh(): Promise<void>;
  /** Refreshes before expiry (then reconnects to use it) and on every disconnect, until the connection closes. */
  attach(nc: NatsConnection): void;
}

/** Refresh this long before expiry: a fifth of the lifetime, at least 5 s (half of a very short one), at most 5 min. */
const leadMs = (lifetimeMs: number) => Math.min(300_000, Math.max(Math.min(5_000, lifetimeMs / 2), lifetimeMs / 5));

/**
 * Makes an NKey pair in memory (its seed never leaves the process), fetches
 * a first user JWT, and keeps it fresh. nats.js's authenticator is called
 * synchronously, so it hands out the JWT fetched last; fetches happen before
 * expiry and on every disconnect, so the next reconnect uses a JWT made from
 * the token file as it is then (projected tokens rotate).
 */
export async function startOidcLogin(options: OidcLoginOptions): Promise<OidcLogin> {
  const logger = options.logger ?? silentLogger;
  const user = createUser();
  const seed = user.getSeed();
  let current = await fetchNatsCredentials(options, user.getPublicKey());
  let fetching: Promise<void> | undefined;
  let closed = false;
  /** Set while Herald itself reconnects to switch to a fresh JWT: that disconnect needs no second fetch. */
  let switching = false;
  let timer: NodeJS.Timeout | undefined;

  const refresh = (): Promise<void> => {
    fetching ??= fetchNatsCredentials(options, user.getPublicKey())
      .then((fresh) => {
        current = fresh;
      })
      .finally(() => (fetching = undefined));
    return fetching;
  };

  /** Refreshes until it works (or the connection closes), backing off up to 10 s. */
  const refreshPersistently = async (): Promise<boolean> => {
    for (let delay = 250; !closed; delay = Math.min(delay * 2, 10_000)) {
      try {
        await refresh();
        return true;
      } catch (err) {
        logger.warn({ err: (err as Error).message, role: options.role, domain: options.domain }, "cannot refresh NATS credentials; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
    return false;
  };

  const schedule = (nc: NatsConnection) => {
    clearTimeout(timer);
    if (closed) return;
    const lifetime = current.expiresAt.getTime() - Date.now();
    timer = setTimeout(() => {
      void refreshPersistently().then(async (ok) => {
        // Switch to the fresh JWT now: the server would close the connection when the old one expires.
        if (ok && !closed) {
          switching = true;
          await nc.reconnect().catch(() => undefined);
          // No disconnect came (the reconnect failed at once): the next one is a real one.
          setTimeout(() => (switching = false), 5_000).unref();
        }
        schedule(nc);
      });
    }, Math.max(0, lifetime - leadMs(lifetime)));
    timer.unref();
  };

  return {
    authenticator: jwtAuthenticator(() => current.jwt, () => seed),
    get expiresAt() {
      return current.expiresAt;
    },
    refresh,
    attach(nc) {
      schedule(nc);
      void (async () => {
        for await (const status of nc.status()) {
          if (status.type === "disconnect" && switching) switching = false;
          else if (status.type === "disconnect") void refreshPersistently().then(() => schedule(nc));
        }
      })().catch(() => undefined);
      void nc.closed().then(() => {
        closed = true;
        clearTimeout(timer);
      });
    },
  };
}
