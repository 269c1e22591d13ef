import { startPostgresServer } from "../test/kit/postgres-server.js";
import { createBenchDatabase, prepareSchema, type BenchDatabase } from "./bench-database.js";
import { onCleanup } from "./cleanup.js";
import { startDelayProxy, type DelayProxy } from "./delay-proxy.js";
import type { Profile } from "./options.js";

/**
 * Predicate locks kept per row: PostgreSQL's SERIALIZABLE escalates a
 * transaction's row locks to a page lock past 2 rows of a page and to a
 * relation lock past 32 pages of a relation by default, so transactions that
 * touch different rows conflict. CockroachDB's conflicts are row-level; these
 * settings make PostgreSQL's closer to them. PostgreSQL users who run Herald
 * with big batches side by side want them too.
 */
export const ROWLOCK_SETTINGS = {
  max_pred_locks_per_page: 1000,
  max_pred_locks_per_relation: 100_000,
  max_pred_locks_per_transaction: 1024,
  // Durable commits, as on the default server: only the lock granularity differs.
  fsync: "on",
  synchronous_commit: "on",
} as const;

/**
 * Fill factor of the account tables on the row-level profile. PostgreSQL locks
 * btree index pages, not entries, for SERIALIZABLE reads through an index; an
 * update that must add an index entry (no room on the row's page) writes into
 * such a page and conflicts with every reader of it. With room on each page
 * the update stays on its page (HOT) and conflicts only with readers of that
 * row, as on CockroachDB.
 */
export const ROWLOCK_ACCOUNTS_FILLFACTOR = 70;

/** One PostgreSQL profile's bench database, and the delaying proxies in front of it. */
export interface ProfileDatabase {
  readonly profile: Profile;
  readonly db: BenchDatabase;
  /** Server settings that differ from the server's own defaults. */
  readonly settings: Record<string, string | number>;
  /** The URL a worker uses: direct (null) or through a proxy with that one-way latency. */
  urlFor(latencyMs: number | null | undefined): Promise<string>;
  /** Which proxy implementation ran (native, or the kit's when no C compiler was found). */
  proxyKind(): DelayProxy["kind"] | undefined;
}

/**
 * Sets up a profile: `default` uses the server the bench was pointed at,
 * `rowlocks` starts a private PostgreSQL with ROWLOCK_SETTINGS. `prepare` runs
 * Herald's migrations on the new database before the bench's schema and seed.
 */
export async function openProfile(profile: Profile, adminUrl: string, prepare: (db: BenchDatabase) => Promise<void>): Promise<ProfileDatabase> {
  let settings: Record<string, string | number> = {};
  let accountsFillfactor: number | undefined;
  let serverUrl = adminUrl;
  if (profile === "rowlocks") {
    const server = await startPostgresServer({ settings: ROWLOCK_SETTINGS });
    onCleanup("stop the row-level-locks PostgreSQL", () => server.dispose());
    serverUrl = server.url;
    settings = { ...ROWLOCK_SETTINGS, "accounts fillfactor": ROWLOCK_ACCOUNTS_FILLFACTOR };
    accountsFillfactor = ROWLOCK_ACCOUNTS_FILLFACTOR;
  }
  const db = await createBenchDatabase(serverUrl);
  onCleanup(`drop database ${db.name}`, () => db.drop());
  await prepare(db);
  await prepareSchema(db, { accountsFillfactor });
  const proxies = new Map<number, Promise<DelayProxy>>();
  let kind: DelayProxy["kind"] | undefined;
  const target = new URL(db.url);
  return {
    profile,
    db,
    settings,
    async urlFor(latencyMs) {
      if (latencyMs === null || latencyMs === undefined) return db.url;
      let proxy = proxies.get(latencyMs);
      if (!proxy) {
        proxy = startDelayProxy(Number(target.port || 5432), latencyMs);
        proxies.set(latencyMs, proxy);
        const started = await proxy;
        kind = started.kind;
        onCleanup(`stop the ${latencyMs} ms proxy`, () => started.close());
      }
      const url = new URL(db.url);
      url.port = String((await proxy).port);
      return url.toString();
    },
    proxyKind: () => kind,
  };
}
