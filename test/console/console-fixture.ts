import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { coreMigrationsFolder } from "../../src/db/migrator.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { loadConfig } from "../../src/config.js";
import { consume } from "../../src/consumer/index.js";
import { startConsole, type Console } from "../../src/console/server.js";
import { tokenAuthenticator, type OperatorAuthenticator } from "../../src/console/operator-auth.js";
import type { Logger } from "../../src/telemetry/logger.js";
import { consoleGrantsSql } from "../../src/security/console-role.js";
import { tablesInMigrations } from "../../src/security/sql-tables.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueDomain } from "../kit/names.js";

/** A worker, a transactional consumer that fails on one account, and a console reading as its own role. */
export interface ConsoleFixture {
  h: Harness;
  stream: string;
  consumer: { stop(): Promise<void> };
  /** The account whose events the consumer fails on, until `heal()`. */
  poisonAccount: string;
  heal(): void;
  console: Console;
  token: string;
  /** The console's own pool (its role). */
  consoleDb: Database<any>;
  role: string;
  close(): Promise<void>;
}

export const DURABLE = "statements";

/** Creates a console role on the harness's database (the `herald grants --console` SQL) and connects as it. */
export async function consoleRole(h: Harness, actions: boolean): Promise<{ role: string; db: Database<any> }> {
  const role = `${uniqueDomain("hc")}_console`;
  const heraldTables = await tablesInMigrations(coreMigrationsFolder());
  await sql.raw(consoleGrantsSql({ domain: h.domain, role, dialect: "postgresql", heraldTables, actions })).execute(h.database.db);
  const url = new URL(h.database.url);
  url.username = role;
  return { role, db: await connectDatabase<any>({ url: url.toString(), poolMax: 4 }) };
}

/** Roles are server-wide: dropped once their database is gone. */
export async function dropRoles(roles: readonly string[]): Promise<void> {
  if (roles.length === 0) return;
  const admin = await connectDatabase<any>({ url: loadConfig().DATABASE_URL, poolMax: 1 });
  try {
    for (const role of roles) await sql.raw(`DROP ROLE IF EXISTS "${role}"`).execute(admin.db);
  } finally {
    await admin.destroy();
  }
}

/** `authenticatorFor`: how operators of the fixture's domain sign in (default the operator token, `token`); `logger`: the console's (default silent). */
export async function startConsoleFixture(options: { actions: boolean; authenticatorFor?: (domain: string) => OperatorAuthenticator; logger?: Logger }): Promise<ConsoleFixture> {
  const h = await createHarness();
  const stream = (await h.startWorker()).stream;
  await sql`CREATE TABLE console_effects (event_id UUID PRIMARY KEY, account TEXT NOT NULL)`.execute(h.database.db);
  let healed = false;
  const poisonAccount = "acct_poison";
  const consumer = await consume({
    nc: h.nc,
    db: h.database.db,
    domain: h.domain,
    durable: DURABLE,
    filter: `${h.domain}.evt.account_opened`,
    maxDeliver: 2,
    backoffMs: [20],
    async handle(event, ctx) {
      const account = (event.data as { accountId: string }).accountId;
      if (account === poisonAccount && !healed) throw new Error(`statement rule broken for ${account}`);
      await sql`INSERT INTO console_effects (event_id, account) VALUES (${event.id}::UUID, ${account})`.execute(ctx.tx);
    },
  });
  // The console's role: what `herald grants --console [--actions]` prints, run as an admin.
  const { role, db: consoleDb } = await consoleRole(h, options.actions);
  const dir = await mkdtemp(join(tmpdir(), "herald-console-"));
  const token = `op-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  await writeFile(join(dir, "token"), `${token}\n`, { mode: 0o600 });
  const console = await startConsole({
    db: consoleDb.db,
    dialect: consoleDb.dialect,
    nc: h.nc,
    port: 0,
    actions: options.actions,
    authenticator: options.actions ? (options.authenticatorFor?.(h.domain) ?? (await tokenAuthenticator(join(dir, "token")))) : undefined,
    jaegerUrl: "http://jaeger.example:16686",
    logger: options.logger,
  });
  return {
    h,
    stream,
    consumer,
    poisonAccount,
    heal: () => void (healed = true),
    console,
    token,
    consoleDb,
    role,
    async close() {
      await console.close();
      await consumer.stop();
      await consoleDb.destroy();
      await rm(dir, { recursive: true, force: true });
      await h.close();
      await dropRoles([role]);
    },
  };
}
