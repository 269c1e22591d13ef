import { readFileSync } from "node:fs";
import {
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type ConnectionOptions,
} from "@nats-io/nats-core";

/** How a NATS connection proves who it is. At most one way is used. */
export interface NatsAuthOptions {
  /** User name for user/password authentication. Default: none. */
  user?: string;
  /** Password for `user`. Default: none. */
  password?: string;
  /** Token authentication. Default: none. */
  token?: string;
  /** File holding an NKey seed (`SU...`); read again on every (re)connect. Default: none. */
  nkeySeedFile?: string;
  /** `.creds` file (user JWT and seed); read again on every (re)connect. Default: none. */
  credsFile?: string;
  /** TLS: files are read on every (re)connect, so renewed certificates take effect. Default: no TLS unless the URL or server asks for it. */
  tls?: {
    /** CA certificate(s) to verify the server with, PEM. Default: the system's CAs. */
    caFile?: string;
    /** Client certificate for mutual TLS, PEM. Default: none. */
    certFile?: string;
    /** Key of `certFile`, PEM. Default: none. */
    keyFile?: string;
  };
}

/** Options that do not fit together; names the fields, never their values. */
export class NatsAuthError extends TypeError {
  override readonly name = "NatsAuthError";
}

/**
 * Reads a secret file on each call and returns the part `extract` finds in it.
 * nats.js closes the connection for good when an authenticator throws, so
 * while a file is being replaced (missing, half written) the last good value
 * is used and the next reconnect tries again; only a first read may fail.
 */
function rotatingSecret(kind: string, path: string, extract: (text: string) => string | undefined): () => Uint8Array {
  let last: Uint8Array | undefined;
  return () => {
    let problem: string;
    try {
      const found = extract(readFileSync(path, "utf8"));
      if (found) return (last = new TextEncoder().encode(found));
      problem = "holds no usable credentials";
    } catch (err) {
      problem = `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`;
    }
    if (last) return last;
    throw new NatsAuthError(`the NATS ${kind} file ${path} ${problem}`);
  };
}

/** An NKey seed file may hold comments or a trailing newline; only the `SU...` line counts. */
const seedLine = (text: string): string | undefined =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => /^SU[A-Z2-7]{50,}$/.test(l));

/** A `.creds` file holds a JWT block and a seed block between `-----` marker lines. */
const credsText = (text: string): string | undefined => ((text.match(/^\s*-{3,}[^\n]*-{3,}\s*$/gm) ?? []).length >= 4 ? text : undefined);

/**
 * The `authenticator` and `tls` connection options for the given settings.
 * File-based credentials are read by the authenticator itself, which nats.js
 * calls on each connect, so a rotated file is picked up on the next reconnect.
 */
export function natsAuthConnectionOptions(options: NatsAuthOptions, servers: readonly string[] = []): Partial<ConnectionOptions> {
  const ways = [options.user !== undefined || options.password !== undefined, options.token, options.nkeySeedFile, options.credsFile].filter(Boolean);
  if (ways.length > 1) throw new NatsAuthError("use one NATS authentication: user/password, token, NKey seed file or creds file");
  if ((options.user === undefined) !== (options.password === undefined)) throw new NatsAuthError("NATS user and password go together");
  if (Boolean(options.tls?.certFile) !== Boolean(options.tls?.keyFile)) throw new NatsAuthError("NATS TLS certificate and key go together");

  let authenticator: Authenticator | undefined;
  if (options.user !== undefined) authenticator = usernamePasswordAuthenticator(options.user, options.password);
  else if (options.token) authenticator = tokenAuthenticator(options.token);
  else if (options.nkeySeedFile) authenticator = nkeyAuthenticator(rotatingSecret("NKey seed", options.nkeySeedFile, seedLine));
  else if (options.credsFile) authenticator = credsAuthenticator(rotatingSecret("creds", options.credsFile, credsText));

  const tlsFiles = Object.fromEntries(Object.entries(options.tls ?? {}).filter(([, v]) => v));
  // A tls:// URL or any TLS file means TLS is required, never silently skipped.
  const wantsTls = Object.keys(tlsFiles).length > 0 || servers.some((s) => /^tls:\/\//i.test(s.trim()));
  return { ...(authenticator ? { authenticator } : {}), ...(wantsTls ? { tls: tlsFiles } : {}) };
}
