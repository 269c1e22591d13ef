import { createHash } from "node:crypto";
import { CE, MSG_ID_HEADER } from "../protocol/headers.js";
import { assertSegment } from "../protocol/subjects.js";
import type { ChangeOperation, RowChange, SourceKind } from "./change-source.js";
import { sortablePosition } from "./position-order.js";

/** CloudEvents extension headers only CDC messages carry. */
export const CDC_HEADER = {
  /** The source's commit position (LSN or HLC timestamp). */
  position: "ce-cdcposition",
  /** The change's ordinal within its transaction. */
  seq: "ce-cdcseq",
  /** `postgres` or `cockroachdb`. */
  source: "ce-cdcsource",
  /** `true` on a row the source re-emitted unchanged (initial scan, schema-change backfill); absent otherwise. */
  backfill: "ce-cdcbackfill",
} as const;

/** `<domain>.cdc.<table>.<op>` (`op` insert, update, delete or truncate): one subject tree per watched table. */
export const cdcSubject = (domain: string, table: string, op: ChangeOperation): string => `${domain}.cdc.${table}.${op}`;
/** Every CDC subject of a domain, e.g. for a stream or a consumer filter. */
export const cdcWildcard = (domain: string): string => `${domain}.cdc.>`;
export { defaultCdcStreamName } from "../protocol/streams.js";

/** Checks a table name before it becomes a subject segment. */
export function assertWatchedTable(table: string): string {
  assertSegment("CDC table", table);
  return table;
}

/** Key columns in a fixed order, so the same key always renders the same text. */
export function keyText(key: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.keys(key).sort().map((k) => [k, key[k]]));
}

/** A name-based UUID (version 5 layout over SHA-256): the same input always gives the same id. */
function uuidFrom(...parts: string[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  const b = hash.digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The change's `ce-id` and `Nats-Msg-Id`: derived from table, key, commit
 * position and seq only, so a change the source sends again gets the same id
 * and JetStream drops the copy. A UUID, so consumers' inboxes take it as is.
 */
export const changeId = (change: RowChange, key: string = keyText(change.key)): string =>
  uuidFrom("change", change.table, key, change.version ?? change.position, String(change.seq));

/** The transaction's id (`ce-commandid`): every change of one commit shares it, as events of one command do. */
export function transactionId(kind: SourceKind, position: string): string {
  // Every change of a transaction asks for the same id: keep the last one.
  if (lastTransaction.kind !== kind || lastTransaction.position !== position) lastTransaction = { kind, position, id: uuidFrom("transaction", kind, position) };
  return lastTransaction.id;
}
let lastTransaction = { kind: "", position: "", id: "" };

/** `ce-time`: the commit time as ISO text, formatted once for all changes of a commit (they share its Date); the source's own text where it has one (microseconds). */
function commitTimeText(change: RowChange): string {
  if (change.commitTimeText !== undefined) return change.commitTimeText;
  const time = change.commitTime;
  if (lastCommitTime.date !== time) lastCommitTime = { date: time, text: time.toISOString() };
  return lastCommitTime.text;
}
let lastCommitTime = { date: new Date(0), text: new Date(0).toISOString() };

/** JSON body of a CDC message. */
export interface ChangeBody {
  table: string;
  op: ChangeOperation;
  key: Readonly<Record<string, unknown>>;
  before: Readonly<Record<string, unknown>> | null;
  after: Readonly<Record<string, unknown>> | null;
  position: string;
  /** `position` at a fixed width, so text order is commit order (./position-order.ts). */
  sortablePosition: string;
  seq: number;
  commitTime: string;
  /** Present and true only on a row the source re-emitted unchanged (see RowChange.backfill). */
  backfill?: true;
}

export interface EncodedChange {
  subject: string;
  id: string;
  headers: Record<string, string>;
  body: ChangeBody;
}

/**
 * A change as a CloudEvents message (NATS binding, binary mode). `ce-commandid`
 * and `ce-idempotencykey` name the transaction, so `consume()` and the inbox
 * take CDC messages exactly as they take command events.
 */
export function encodeChange(domain: string, kind: SourceKind, change: RowChange, key: string = keyText(change.key)): EncodedChange {
  const id = changeId(change, key);
  const time = commitTimeText(change);
  const subject = cdcSubject(domain, change.table, change.op);
  const encoded: EncodedChange = {
    subject,
    id,
    headers: {
      [CE.specversion]: "1.0",
      [CE.id]: id,
      [CE.type]: `${domain}.cdc.${change.table}.${change.op}`,
      [CE.source]: `herald/${domain}/cdc`,
      [CE.time]: time,
      [CE.contentType]: "application/json",
      [CE.commandId]: transactionId(kind, change.position),
      [CE.idempotencyKey]: `cdc:${kind}:${change.position}`.slice(0, 255),
      [CDC_HEADER.position]: change.position,
      [CDC_HEADER.seq]: String(change.seq),
      [CDC_HEADER.source]: kind,
      [MSG_ID_HEADER]: id,
    },
    body: {
      table: change.table,
      op: change.op,
      key: change.key,
      before: change.before,
      after: change.after,
      position: change.position,
      sortablePosition: sortableOnce(kind, change.position),
      seq: change.seq,
      commitTime: time,
    },
  };
  // Only scans and backfills carry the mark; every other change keeps the same shape.
  if (change.backfill) {
    encoded.headers[CDC_HEADER.backfill] = "true";
    encoded.body.backfill = true;
  }
  return encoded;
}

/** Every change of a commit shares its position: render it once. */
function sortableOnce(kind: SourceKind, position: string): string {
  if (lastSortable.kind !== kind || lastSortable.position !== position) {
    let text: string;
    try {
      text = sortablePosition(kind, position);
    } catch {
      text = position; // a position the source made itself is always well formed; never fail a publish over this field
    }
    lastSortable = { kind, position, text };
  }
  return lastSortable.text;
}
let lastSortable = { kind: "", position: "", text: "" };
