import { valueDecoder, type PgTypeInfo, type ValueDecoder } from "./pg-values.js";

/**
 * Decoder of PostgreSQL's `pgoutput` logical replication messages, protocol
 * version 1 (text column values), as described in the PostgreSQL manual,
 * "Logical Replication Message Formats". Only what the CDC source needs:
 * Begin, Commit, Relation, Insert, Update, Delete, Truncate; Type, Origin and
 * Message are recognised and skipped. Column values go through Herald's own
 * type-aware decoder (./pg-values.ts), never pg's type parsers.
 */

/** LSNs as 64-bit integers; rendered `X/Y` in hex like PostgreSQL does. */
export type Lsn = bigint;

export const formatLsn = (lsn: Lsn): string => `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;

export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new TypeError(`"${text}" is not an LSN (X/Y in hex)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Microseconds since 2000-01-01 (PostgreSQL's epoch) to a Date. */
const PG_EPOCH_MS = 946_684_800_000;
export const pgTime = (micros: bigint): Date => new Date(PG_EPOCH_MS + Number(micros / 1000n));
/** The same instant as RFC 3339 text in UTC with all six digits of microseconds, independent of the process's zone. */
export function pgTimeText(micros: bigint): string {
  const ms = pgTime(micros).toISOString(); // ...T03:04:05.123Z
  const sub = ((micros % 1000n) + 1000n) % 1000n;
  return `${ms.slice(0, -1)}${sub.toString().padStart(3, "0")}Z`;
}
export const toPgTime = (date: Date): bigint => BigInt(date.getTime() - PG_EPOCH_MS) * 1000n;

export interface RelationColumn {
  name: string;
  typeOid: number;
  /** Its text to JSON (./pg-values.ts). */
  decode: ValueDecoder;
  /** Part of the replica identity (the primary key by default). */
  key: boolean;
}

export interface Relation {
  oid: number;
  schema: string;
  table: string;
  /** `d` default (primary key), `f` full, `i` index, `n` nothing. */
  replicaIdentity: string;
  columns: RelationColumn[];
}

/** A row image: column name to value; TOASTed columns unchanged by an update are absent. */
export type Row = Record<string, unknown>;

export type PgOutputMessage =
  | { tag: "begin"; finalLsn: Lsn; commitTime: Date; commitTimeText: string; xid: number }
  | { tag: "commit"; commitLsn: Lsn; endLsn: Lsn; commitTime: Date }
  | { tag: "relation"; relation: Relation }
  | { tag: "insert"; relation: Relation; after: Row }
  | { tag: "update"; relation: Relation; before: Row | null; keyOnly: boolean; after: Row }
  | { tag: "delete"; relation: Relation; before: Row; keyOnly: boolean }
  | { tag: "truncate"; relations: Relation[]; cascade: boolean; restartIdentity: boolean }
  | { tag: "other"; code: string };

/** Thrown for bytes that are not a pgoutput message this decoder knows how to read. */
export class PgOutputError extends Error {
  override readonly name = "PgOutputError";
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): number {
    return this.buf.readUInt8(this.at++);
  }
  char(): string {
    return String.fromCharCode(this.byte());
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  uint32(): number {
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  int64(): bigint {
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.at);
    if (end < 0) throw new PgOutputError("unterminated string in pgoutput message");
    const s = this.buf.toString("utf8", this.at, end);
    this.at = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
}

function readTuple(r: Reader, relation: Relation): Row {
  const n = r.int16();
  const row: Row = {};
  for (let i = 0; i < n; i++) {
    const column = relation.columns[i];
    const kind = r.char();
    if (!column) throw new PgOutputError(`tuple of ${relation.table} has more columns than its relation message`);
    if (kind === "n") row[column.name] = null;
    else if (kind === "t") row[column.name] = column.decode(r.bytes(r.int32()).toString("utf8"));
    else if (kind === "u") continue;
    else throw new PgOutputError(`unknown tuple column kind "${kind}" (binary mode is not used)`);
  }
  return row;
}

/**
 * Decodes one pgoutput message; `relations` is the decoder's cache, filled by
 * Relation messages; `types` describes the non-built-in column types (arrays,
 * domains, enums) from the catalog.
 */
export function decodePgOutput(buf: Buffer, relations: Map<number, Relation>, types: ReadonlyMap<number, PgTypeInfo> = new Map()): PgOutputMessage {
  const r = new Reader(buf);
  const code = r.char();
  const relationOf = (oid: number): Relation => {
    const rel = relations.get(oid);
    if (!rel) throw new PgOutputError(`change for relation ${oid} before its relation message`);
    return rel;
  };
  switch (code) {
    case "B": {
      const finalLsn = r.int64();
      const micros = r.int64();
      return { tag: "begin", finalLsn, commitTime: pgTime(micros), commitTimeText: pgTimeText(micros), xid: r.uint32() };
    }
    case "C": {
      r.byte();
      const commitLsn = r.int64();
      const endLsn = r.int64();
      return { tag: "commit", commitLsn, endLsn, commitTime: pgTime(r.int64()) };
    }
    case "R": {
      const oid = r.uint32();
      const schema = r.cstring();
      const table = r.cstring();
      const replicaIdentity = r.char();
      const columns: RelationColumn[] = [];
      for (let i = r.int16(); i > 0; i--) {
        const flags = r.byte();
        const name = r.cstring();
        const typeOid = r.uint32();
        r.int32();
        columns.push({ name, typeOid, decode: valueDecoder(typeOid, types), key: (flags & 1) === 1 });
      }
      const relation: Relation = { oid, schema, table, replicaIdentity, columns };
      relations.set(oid, relation);
      return { tag: "relation", relation };
    }
    case "I": {
      const relation = relationOf(r.uint32());
      if (r.char() !== "N") throw new PgOutputError("insert without a new tuple");
      return { tag: "insert", relation, after: readTuple(r, relation) };
    }
    case "U": {
      const relation = relationOf(r.uint32());
      let kind = r.char();
      let before: Row | null = null;
      let keyOnly = false;
      if (kind === "K" || kind === "O") {
        keyOnly = kind === "K";
        before = readTuple(r, relation);
        kind = r.char();
      }
      if (kind !== "N") throw new PgOutputError("update without a new tuple");
      return { tag: "update", relation, before, keyOnly, after: readTuple(r, relation) };
    }
    case "D": {
      const relation = relationOf(r.uint32());
      const kind = r.char();
      if (kind !== "K" && kind !== "O") throw new PgOutputError("delete without an old tuple");
      return { tag: "delete", relation, before: readTuple(r, relation), keyOnly: kind === "K" };
    }
    case "T": {
      // Protocol 1 has no xid here (only streamed transactions carry one).
      const count = r.int32();
      const flags = r.byte();
      const truncated: Relation[] = [];
      for (let i = 0; i < count; i++) truncated.push(relationOf(r.uint32()));
      return { tag: "truncate", relations: truncated, cascade: (flags & 1) === 1, restartIdentity: (flags & 2) === 2 };
    }
    case "Y":
    case "O":
    case "M":
      return { tag: "other", code };
    default:
      throw new PgOutputError(`unknown pgoutput message "${code}"`);
  }
}
