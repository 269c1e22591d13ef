import pg from "pg";
import { passwordFileClient } from "../db/password-file.js";

/** Where the PostgreSQL source connects: a URL, and a password file read on every connect (optional). */
export interface PgTarget {
  url: string;
  /** Overrides a password in `url`; read again for every connection. Default: unset. */
  passwordFile?: string | undefined;
}

/** A pg client for `target`, not yet connected. */
export function pgClient(target: PgTarget, config: pg.ClientConfig = {}): pg.Client {
  const Client = target.passwordFile ? passwordFileClient(target.passwordFile) : pg.Client;
  return new Client({ connectionString: target.url, ...config });
}

/** Runs `fn` on a fresh connection, closed afterwards. */
export async function withPgClient<T>(target: PgTarget, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = pgClient(target);
  // A server that ends the session while `fn` sits between queries emits `error` on the client;
  // without a listener that would crash the process. `fn`'s next query fails with the cause anyway.
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
