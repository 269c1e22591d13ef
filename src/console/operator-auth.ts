import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";

/** Who performed an action, as recorded in the operator log. */
export interface Operator {
  /** Stable name recorded with each action (`operator` for the shared token, the subject or e-mail with OIDC). */
  readonly name: string;
  /** How the operator signed in: `token`, `oidc`... */
  readonly via: string;
  /** Domains the operator may act in, each with the end of its grant (epoch ms). Default: every domain (the shared token). */
  readonly grants?: ReadonlyMap<string, number>;
  /** When the sign-in ends at the latest (epoch ms), e.g. an OIDC token's `exp`. Default: the session's lifetime. */
  readonly expiresAt?: number;
}

/** A credential refused with a reason worth showing: 401 for a bad credential, 403 for one without the operator role. */
export class OperatorRefusedError extends Error {
  override readonly name = "OperatorRefusedError";
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

/** True when `operator` may act in `domain` now. */
export const mayActIn = (operator: Operator, domain: string, now = Date.now()): boolean =>
  !operator.grants || (operator.grants.get(domain) ?? 0) > now;

/**
 * How an operator proves who they are before an action. The console ships the
 * shared-token form; an OIDC login plugs in as another implementation: a
 * `redirect` method whose `start` returns the provider's authorization URL and
 * whose `finish` checks the callback and returns the operator.
 */
export interface OperatorAuthenticator {
  /** `form`: the login page asks for a credential and calls `verify`; `redirect`: it sends the browser to `start()`. */
  readonly method: "form" | "redirect";
  /** Short label for the login page ("operator token", "Sign in with …"). */
  readonly label: string;
  /** Checks a credential typed into the form; undefined (or OperatorRefusedError) when refused. */
  verify?(credential: string): Promise<Operator | undefined>;
  /** Checks an `Authorization: Bearer` credential of a scripted action in `domain`; throws OperatorRefusedError when refused. */
  bearer?(credential: string, domain: string): Promise<Operator>;
  /** Redirect logins: where to send the browser; `callbackUrl` is the console's `/auth/callback`. */
  start?(callbackUrl: string): Promise<string>;
  /** Redirect logins: checks the provider's answer at `/auth/callback`; undefined when refused. */
  finish?(callback: URL): Promise<Operator | undefined>;
}

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** Shortest operator token accepted. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * The shared operator token, read from a file (so it stays out of the
 * environment and process listings). Compared in constant time: both sides
 * are hashed first, so neither their length nor their content leaks by timing.
 */
export async function tokenAuthenticator(tokenFile: string): Promise<OperatorAuthenticator> {
  const token = (await readFile(tokenFile, "utf8")).trim();
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`the operator token in ${tokenFile} must be at least ${MIN_TOKEN_LENGTH} characters`);
  const expected = digest(token);
  return {
    method: "form",
    label: "operator token",
    async verify(credential) {
      return timingSafeEqual(digest(credential.trim()), expected) ? { name: "operator", via: "token" } : undefined;
    },
  };
}
