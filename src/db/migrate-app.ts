import type { Kysely } from "kysely";
import type { HeraldApp } from "../commands/define-app.js";
import { coreMigrationsFolder, migrateToLatest } from "./migrator.js";

/** Applies Herald's own migrations, then the app's, each tracked in its own table. */
export async function migrateApp(db: Kysely<any>, app?: HeraldApp): Promise<{ applied: string[] }> {
  const core = await migrateToLatest({ db, folder: coreMigrationsFolder(), tableName: "herald_migration" });
  if (!app?.migrations) return core;
  const own = await migrateToLatest({ db, folder: app.migrations, tableName: `herald_migration_${app.domain}` });
  return { applied: [...core.applied, ...own.applied.map((name) => `${app.domain}/${name}`)] };
}
