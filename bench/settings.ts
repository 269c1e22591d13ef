import { fileURLToPath } from "node:url";
import { childEnvironment, parseConfig } from "../src/config.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CLI = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));
/** Where the glue and the ceiling responder are transpiled to, so they run without a loader like Herald's dist. */
export const BUILD_DIR = fileURLToPath(new URL("./.build/", import.meta.url));

/** Same pool size for Herald and the glue, so they compete on equal terms. */
export const POOL_SIZE = 10;
/** Every account starts with this much: transfers of at most 100 never run one dry. */
export const INITIAL_BALANCE = 1_000_000_000;
/** Largest transfer amount the load generator sends. */
export const MAX_AMOUNT = 100;
/** Request timeout: above Herald's 10 s transaction deadline, as the protocol asks. */
export const REQUEST_TIMEOUT_MS = 15_000;

/**
 * The servers to measure against. Herald's own default DATABASE_URL is a local
 * CockroachDB; the bench defaults to the local PostgreSQL that development and CI use.
 */
export function benchServers(): { databaseUrl: string; natsUrl: string } {
  const env = Object.fromEntries(Object.entries(childEnvironment()).filter(([, v]) => v !== undefined && v !== ""));
  const config = parseConfig({ DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/postgres", ...env });
  return { databaseUrl: config.DATABASE_URL, natsUrl: config.NATS_URL };
}

/** The same URL with another database name (query string, e.g. sslmode, kept). */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** True when every host of the URL list is on this machine: the bench only loads local servers. */
export function isLoopback(urls: string): boolean {
  return urls.split(",").every((raw) => {
    const host = new URL(raw.trim().replace(/^[a-z]+:/, "http:")).hostname;
    return host === "localhost" || host === "[::1]" || host === "::1" || /^127\./.test(host);
  });
}
