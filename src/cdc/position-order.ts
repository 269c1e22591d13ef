import { parseHlc } from "./cockroach-hlc.js";
import type { SourceKind } from "./change-source.js";

/**
 * Commit positions that sort as text. A PostgreSQL LSN prints as `X/Y` in
 * hex without leading zeros (`0/9` comes after `0/10` as text); a CockroachDB
 * HLC timestamp as `<wall ns>.<logical>`. `sortablePosition` renders either at
 * a fixed width, so plain string order is commit order within one source:
 * PostgreSQL `0000000000000009`, 16 uppercase hex digits; CockroachDB
 * `01700000000000000000.0000000001`, 20 wall digits, a dot and 10 logical ones.
 */
export function sortablePosition(source: SourceKind, position: string): string {
  if (source === "postgres") {
    const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(position);
    if (!m) throw new TypeError(`"${position}" is not an LSN (X/Y in hex)`);
    return (m[1]!.padStart(8, "0") + m[2]!.padStart(8, "0")).toUpperCase();
  }
  const hlc = parseHlc(position);
  if (!hlc) throw new TypeError(`"${position}" is not a CockroachDB HLC timestamp`);
  return `${hlc.wall.toString().padStart(20, "0")}.${hlc.logical.toString().padStart(10, "0")}`;
}

/** Negative, zero or positive as commit position `a` is before, at or after `b` (both of `source`). */
export function compareCdcPositions(source: SourceKind, a: string, b: string): number {
  const x = sortablePosition(source, a);
  const y = sortablePosition(source, b);
  return x < y ? -1 : x > y ? 1 : 0;
}
