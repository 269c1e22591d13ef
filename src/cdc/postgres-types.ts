import { withPgClient, type PgTarget } from "./pg-client.js";
import { qualifiedTable } from "./postgres-keys.js";
import type { PgTypeInfo } from "./pg-values.js";

/**
 * The column types of the watched tables that are not built-in scalars, with
 * the element types of arrays and the base types of domains they lead to, by
 * OID: what the value decoder needs for arrays, domains and enums. Read again
 * on every connect, as the primary keys are.
 */
export async function columnTypes(target: PgTarget, tables: readonly string[]): Promise<Map<number, PgTypeInfo>> {
  return withPgClient(target, async (client) => {
    const { rows } = await client.query<{ oid: number; typtype: string; elem: number; base: number; delim: string }>(
      `WITH RECURSIVE used(oid) AS (
         SELECT a.atttypid
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname || '.' || c.relname = ANY($1::text[]) AND a.attnum > 0 AND NOT a.attisdropped
         UNION
         SELECT next.oid
           FROM used
           JOIN pg_type t ON t.oid = used.oid
          CROSS JOIN LATERAL (VALUES (CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END), (t.typbasetype)) AS next(oid)
          WHERE next.oid <> 0
       )
       SELECT t.oid::int AS oid, t.typtype::text AS typtype,
              (CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END)::int AS elem,
              t.typbasetype::int AS base, t.typdelim::text AS delim
         FROM used JOIN pg_type t ON t.oid = used.oid`,
      [tables.map(qualifiedTable)],
    );
    return new Map(rows.map((r) => [r.oid, { typtype: r.typtype, elem: r.elem, base: r.base, delim: r.delim }]));
  });
}
