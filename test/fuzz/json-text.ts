import type { Rng } from "./prng.js";

/**
 * Bodies are built as text, not with JSON.stringify of a value, so the fuzzer
 * controls what goes on the wire: number spellings (`1e2`, `-0`), key order,
 * whitespace, duplicate keys and raw bytes.
 */

/** A JSON object as `[key, raw JSON value text]` pairs, in wire order. */
export type Fields = ReadonlyArray<readonly [string, string]>;

export const encoder = new TextEncoder();
export const utf8 = (text: string): Uint8Array => encoder.encode(text);
/** A JSON string literal. */
export const q = (s: string): string => JSON.stringify(s);

const JSON_WHITESPACE = [" ", "\t", "\n", "\r", "  ", "\r\n"];

function ws(rng: Rng | undefined): string {
  if (!rng || !rng.chance(0.3)) return "";
  return rng.pick(JSON_WHITESPACE);
}

/** Object text; with an rng, insignificant whitespace is sprinkled between tokens. */
export function objectText(fields: Fields, rng?: Rng): string {
  const parts = fields.map(([k, v]) => `${ws(rng)}${q(k)}${ws(rng)}:${ws(rng)}${v}${ws(rng)}`);
  return `${ws(rng)}{${parts.join(",")}}${ws(rng)}`;
}

/** The same object with its keys in another order and other whitespace: the same request (§5). */
export function reformatted(fields: Fields, rng: Rng): string {
  return objectText(rng.shuffle(fields), rng);
}

export function withField(fields: Fields, key: string, raw: string): Fields {
  const out = fields.filter(([k]) => k !== key);
  out.push([key, raw]);
  return out;
}

export function replaceField(fields: Fields, key: string, raw: string): Fields {
  return fields.map(([k, v]) => (k === key ? ([k, raw] as const) : ([k, v] as const)));
}

export function withoutField(fields: Fields, key: string): Fields {
  return fields.filter(([k]) => k !== key);
}

/** Spellings of a non-negative integer that JSON parses to the same number. */
export function spellInteger(rng: Rng, value: number): string {
  const options = [String(value), String(value), `${value}.0`, `${value}e0`, `${value}E+0`, `${value}.000`];
  if (value === 0) options.push("-0", "0e5", "-0.0", "0E-3");
  if (value > 0 && value % 100 === 0) options.push(`${value / 100}e2`, `${value / 100}E2`);
  if (value > 0 && value % 1000 === 0) options.push(`${value / 1000}e+3`);
  return rng.pick(options);
}

/** Concatenates text and raw byte pieces. */
export function bytesOf(...parts: Array<string | Uint8Array | readonly number[]>): Uint8Array {
  const chunks = parts.map((p) => (typeof p === "string" ? utf8(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
