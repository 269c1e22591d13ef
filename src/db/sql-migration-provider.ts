import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";

/** `0001_herald_core.sql`: four digits, an underscore, lowercase words. */
export const MIGRATION_FILE_PATTERN = /^\d{4}_[a-z0-9_]+\.sql$/;

/**
 * Plain `.sql` migrations from one folder, ordered by file name. Each file's
 * text is sent as it is: without parameters node-postgres uses the simple query
 * protocol, so a file may hold several statements.
 */
export class SqlMigrationProvider implements MigrationProvider {
  /** Absolute path of the folder holding `NNNN_name.sql` files. Required. */
  readonly folder: string;

  constructor(folder: string) {
    this.folder = folder;
  }

  /** Migrations keyed by file name without `.sql`; other files are ignored. */
  async getMigrations(): Promise<Record<string, Migration>> {
    const entries = await readdir(this.folder, { withFileTypes: true });
    const files = entries
      .filter((entry) => entry.isFile() && entry.name.endsWith(".sql"))
      .map((entry) => entry.name)
      .sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      if (!MIGRATION_FILE_PATTERN.test(file)) {
        throw new Error(
          `migration file "${file}" in ${this.folder} is badly named: ` +
            `expected four digits, an underscore and lowercase letters, digits or underscores, e.g. 0002_add_orders.sql`,
        );
      }
      const path = join(this.folder, file);
      migrations[file.slice(0, -".sql".length)] = {
        // Read only when run: every run lists all files, but applied ones are never re-read.
        up: async (db: Kysely<any>) => {
          const text = await readFile(path, "utf8");
          await sql.raw(text).execute(db);
        },
      };
    }
    return migrations;
  }
}
