import { keyText } from "./change-message.js";
import type { ChangeOperation } from "./change-source.js";
import type { PgOutputMessage, Relation, Row } from "./pgoutput.js";

/** A row change as one pgoutput message gives it, before the source adds table and commit position. */
export interface DecodedRowChange {
  op: ChangeOperation;
  key: Record<string, unknown>;
  before: Row | null;
  after: Row | null;
}

export type RowMessage = Extract<PgOutputMessage, { tag: "insert" | "update" | "delete" }>;

/** The row's key: its primary key, or where the table has none, its replica identity columns. */
function keyOf(relation: Relation, primaryKey: readonly string[] | undefined, row: Row): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  if (primaryKey) for (const name of primaryKey) key[name] = row[name];
  else for (const c of relation.columns) if (c.key) key[c.name] = row[c.name];
  return key;
}

/**
 * The changes one pgoutput row message makes. An update that changes the key
 * is the old key's delete and the new key's insert (as a CockroachDB
 * changefeed, keyed by primary key, reports it), so each key's own history
 * stays whole and in order.
 */
export function rowChanges(msg: RowMessage, primaryKey: readonly string[] | undefined): DecodedRowChange[] {
  const rel = msg.relation;
  if (msg.tag === "insert") return [{ op: "insert", key: keyOf(rel, primaryKey, msg.after), before: null, after: msg.after }];
  // A key-only old tuple (REPLICA IDENTITY DEFAULT) is no before image: its other columns are missing.
  const before = msg.before && !msg.keyOnly ? msg.before : null;
  if (msg.tag === "delete") return [{ op: "delete", key: keyOf(rel, primaryKey, msg.before), before, after: null }];
  const after = before ? withUnchangedToast(rel, before, msg.after) : msg.after;
  const key = keyOf(rel, primaryKey, after);
  // Without an old tuple the key did not change (pgoutput sends one under DEFAULT only when it did).
  if (!msg.before) return [{ op: "update", key, before, after }];
  // Key columns are never null, so a null one means the old tuple does not carry the key (another replica identity index).
  const oldKey = keyOf(rel, primaryKey, msg.before);
  if (Object.values(oldKey).some((v) => v == null) || keyText(oldKey) === keyText(key)) return [{ op: "update", key, before, after }];
  return [
    { op: "delete", key: oldKey, before, after: null },
    { op: "insert", key, before: null, after },
  ];
}

/**
 * pgoutput leaves out an unchanged TOASTed value (a large text, bytea or jsonb)
 * from the new tuple; with a full old tuple (REPLICA IDENTITY FULL) the value is
 * known, so `after` is made whole. Without one such columns are absent from `after`.
 */
function withUnchangedToast(relation: Relation, before: Row, after: Row): Row {
  let whole: Row | undefined;
  for (const c of relation.columns) {
    if (!(c.name in after) && c.name in before) (whole ??= { ...after })[c.name] = before[c.name];
  }
  return whole ?? after;
}
