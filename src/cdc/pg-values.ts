import { parseExactJson } from "./changefeed-json.js";
import { parsePgArray } from "./pg-array.js";

/**
 * Herald's own decoder of pgoutput's text column values into JSON, by type
 * (the table in docs/cdc.md). It never goes through a JavaScript Date or pg's
 * type parsers, whose results depend on the process's time zone; it reads the
 * text the replication session prints under the settings it pins
 * (`PINNED_SESSION_SETTINGS`), so the database's own DateStyle, IntervalStyle,
 * TimeZone, extra_float_digits and bytea_output change nothing.
 */

/** Turns one column's text into its JSON value. */
export type ValueDecoder = (text: string) => unknown;

/**
 * Session settings the replication connection pins at startup (they override
 * the database's and the role's defaults): the text of every value is then
 * the same whatever the server is configured with.
 */
export const PINNED_SESSION_SETTINGS: Readonly<Record<string, string>> = {
  DateStyle: "ISO,YMD",
  IntervalStyle: "iso_8601",
  TimeZone: "UTC",
  extra_float_digits: "3",
  bytea_output: "hex",
  lc_monetary: "C",
};

/** The settings as the startup `options` parameter (`-c name=value ...`). */
export const pinnedOptions = (): string =>
  Object.entries(PINNED_SESSION_SETTINGS)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(" ");

const text: ValueDecoder = (t) => t;
const SPECIAL_NUMBERS = new Set(["NaN", "Infinity", "-Infinity"]);

/** A number where a double holds it exactly, else the string of its digits (as the CockroachDB source reads INT8 and DECIMAL). */
const exactNumber: ValueDecoder = (t) => (SPECIAL_NUMBERS.has(t) ? t : parseExactJson(t));
/** Floats print their shortest exact digits (extra_float_digits = 3); NaN and ±Infinity stay strings, apart from NULL. */
const float: ValueDecoder = (t) => (SPECIAL_NUMBERS.has(t) ? t : Number(t));
/** `2026-01-02 03:04:05.123456` to `2026-01-02T03:04:05.123456` (years may have more than 4 digits); `infinity` and `-infinity` as they are. */
const timestamp: ValueDecoder = (t) => {
  const space = t.indexOf(" ");
  return space > 0 && t.charCodeAt(space + 1) >= 0x30 && t.charCodeAt(space + 1) <= 0x39 ? `${t.slice(0, space)}T${t.slice(space + 1)}` : t;
};
/** Under TimeZone = UTC every offset is `+00`: written `Z`, as RFC 3339 does. */
const timestamptz: ValueDecoder = (t) => {
  const iso = timestamp(t) as string;
  return iso.replace(/\+00(?=$| BC$)/, "Z");
};

/** Decoders of the built-in scalar types, by type OID (pg_type.dat). Every other type is sent as its text. */
const SCALARS = new Map<number, ValueDecoder>([
  [16, (t) => t === "t"], // bool
  [20, exactNumber], // int8
  [21, Number], // int2
  [23, Number], // int4
  [26, Number], // oid
  [700, float], // float4
  [701, float], // float8
  [1700, exactNumber], // numeric
  [114, parseExactJson], // json
  [3802, parseExactJson], // jsonb
  [1114, timestamp], // timestamp
  [1184, timestamptz], // timestamptz
]);

/** What the catalog says of a column type that is not a built-in scalar. */
export interface PgTypeInfo {
  /** `b` base, `d` domain, `e` enum, `c` composite, `r` range... */
  typtype: string;
  /** Element type of an array type, else 0. */
  elem: number;
  /** Base type of a domain, else 0. */
  base: number;
  /** Array element delimiter (`,`; `;` for box). */
  delim: string;
}

/**
 * The decoder of one type OID. `types` describes non-built-in types (arrays,
 * domains, enums) from the catalog; anything unknown is sent as text, which
 * is the database's own faithful rendering of it.
 */
export function valueDecoder(oid: number, types: ReadonlyMap<number, PgTypeInfo> = new Map(), depth = 0): ValueDecoder {
  const scalar = SCALARS.get(oid);
  if (scalar) return scalar;
  const info = types.get(oid);
  if (!info || depth > 8) return text;
  if (info.typtype === "d" && info.base) return valueDecoder(info.base, types, depth + 1);
  if (info.elem) {
    const element = valueDecoder(info.elem, types, depth + 1);
    return (t) => parsePgArray(t, element, info.delim) ?? t;
  }
  return text;
}
