import { withPgClient, type PgTarget } from "./pg-client.js";

/** `schema.table` of a watched table name (`public` unless qualified). */
export const qualifiedTable = (t: string): string => (t.includes(".") ? t : `public.${t}`);

/**
 * Primary-key columns of the watched tables, by `schema.table`, in key order.
 * pgoutput flags the replica identity's columns, and under REPLICA IDENTITY
 * FULL that is every column: the key must come from the catalog instead.
 * Tables without a primary key are absent (their replica identity is the key).
 */
export async function primaryKeyColumns(target: PgTarget, tables: readonly string[]): Promise<Map<string, string[]>> {
  return withPgClient(target, async (client) => {
    const { rows } = await client.query<{ name: string; columns: string[] }>(
      `SELECT n.nspname || '.' || c.relname AS name, array_agg(a.attname::text ORDER BY k.ord) AS columns
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE i.indisprimary AND n.nspname || '.' || c.relname = ANY($1::text[])
        GROUP BY 1`,
      [tables.map(qualifiedTable)],
    );
    return new Map(rows.map((r) => [r.name, r.columns]));
  });
}
