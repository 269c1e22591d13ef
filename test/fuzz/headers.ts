import type { Rng } from "./prng.js";
import { bytesOf } from "./json-text.js";

/**
 * Header blocks written byte by byte (`NATS/1.0\r\n<name>: <value>\r\n…\r\n`),
 * so the fuzzer can send what a client library would refuse: duplicated keys,
 * invalid UTF-8, control characters, status lines, 10 KB values.
 *
 * Left out by default: values with a bare CR or LF, and names with spaces,
 * control or non-ASCII characters. The NATS client the worker uses throws
 * while decoding those, and the request is never answered (see
 * known-issues.test.ts); `includeKnownIssues` puts them back.
 */

/** How the worker must read the key: each listed reading is acceptable. */
export type KeyVerdict = "valid" | "missing_idempotency_key" | "invalid_idempotency_key";

export interface HeaderCase {
  kind: string;
  /** The raw header block; undefined sends a message without headers. */
  block: Uint8Array | undefined;
  verdicts: readonly KeyVerdict[];
}

type Line = readonly [name: string, value: string | Uint8Array];

const NAME = "Idempotency-Key";
const NAME_SPELLINGS = [NAME, NAME, NAME, "idempotency-key", "IDEMPOTENCY-KEY", "iDeMpOtEnCy-KeY"];

export function headerBlock(lines: readonly Line[], status = ""): Uint8Array {
  const parts: Array<string | Uint8Array> = [`NATS/1.0${status ? ` ${status}` : ""}\r\n`];
  for (const [name, value] of lines) parts.push(`${name}: `, value, "\r\n");
  parts.push("\r\n");
  return bytesOf(...parts);
}

/** Unrelated headers: noise the worker must ignore. Names are visible ASCII; values have no CR/LF. */
function junk(rng: Rng, budget: number): Line[] {
  const lines: Line[] = [];
  const count = rng.weighted([[6, 0], [3, rng.int(1, 5)], [1, rng.int(50, 400)]]);
  for (let i = 0; i < count && budget > 0; i++) {
    const value = rng.weighted<string | Uint8Array>([
      [3, "x".repeat(rng.int(0, 64))],
      [1, "ünïcødé ✓"],
      [1, rng.bytes(rng.int(1, 32)).map((b) => (b === 13 || b === 10 ? 0x20 : b))],
      [1, "00-zz-garbage-traceparent"],
    ]);
    const name = rng.pick(["X-Junk", "traceparent", "tracestate", "Nats-Msg-Id", "Content-Type", "X-" + "h".repeat(rng.int(1, 200)), `X-${i}`]);
    lines.push([name, value]);
    budget -= value.length + name.length;
  }
  return lines;
}

/** A header block carrying `key` as a valid Idempotency-Key, plus noise. */
export function validKeyHeaders(rng: Rng, key: string): HeaderCase {
  // Surrounding blanks are not part of a header value; the worker sees the key itself.
  const padded = rng.chance(0.1) ? `  ${key}\t` : key;
  const lines = rng.shuffle([[rng.pick(NAME_SPELLINGS), padded] as Line, ...junk(rng, 20_000)]);
  const status = rng.chance(0.05) ? rng.pick(["503", "408 Request Timeout", "100 Idle Heartbeat", "404 No Messages"]) : "";
  return { kind: status ? "key:valid+status-line" : "key:valid", block: headerBlock(lines, status), verdicts: ["valid"] };
}

const INVALID_KEYS: ReadonlyArray<() => string | Uint8Array> = [
  () => "k".repeat(256),
  () => "k".repeat(10_240),
  () => "ключ-идемпотентности",
  () => "key-é",
  () => "🔑🔑",
  () => "key\u00a0nbsp",
  () => "my key",
  () => "tab\tinside",
  () => "nul\u0000inside",
  () => "ctl\u0001\u001b[31minside",
  () => "del\u007finside",
  () => "vt\u000bff\u000cinside",
  () => bytesOf("bad", [0xff, 0xfe], "utf8"),
  () => bytesOf("lone", [0x80], "cont"),
  () => bytesOf("overlong", [0xc0, 0xaf]),
  () => bytesOf("surrogate", [0xed, 0xa0, 0x80]),
];

const KNOWN_ISSUE_LINES: ReadonlyArray<() => Line> = [
  () => [NAME, "bare\nlinefeed"],
  () => [NAME, "bare\rreturn"],
  () => ["traceparent", "00-\n-01"],
  () => [`${NAME} `, "space-before-colon"],
  () => ["X Space", "v"],
  () => ["X-Ünïcode", "v"],
];

/** A header block whose key is missing, empty, invalid or ambiguous. */
export function badKeyHeaders(rng: Rng, validKey: string, includeKnownIssues: boolean): HeaderCase {
  const name = rng.pick(NAME_SPELLINGS);
  const noise = junk(rng, 5_000);
  const kind = rng.weighted([
    [3, "none"], [2, "no-key-header"], [3, "empty"], [2, "near-miss-name"],
    [10, "invalid"], [2, "dup-invalid-first"], [2, "dup-empty-first"], [2, "dup-two-valid"],
    [includeKnownIssues ? 3 : 0, "known-issue"],
  ] as const);
  const block = (lines: Line[]) => headerBlock(rng.shuffle([...noise, ...lines]));
  switch (kind) {
    case "none":
      return { kind: "key:none", block: undefined, verdicts: ["missing_idempotency_key"] };
    case "no-key-header":
      return { kind: "key:no-key-header", block: block([]), verdicts: ["missing_idempotency_key"] };
    case "empty":
      return { kind: "key:empty", block: block([[name, rng.pick(["", " ", "\t", "   \t "])]]), verdicts: ["missing_idempotency_key"] };
    case "near-miss-name": {
      const other = rng.pick(["Idempotency_Key", "IdempotencyKey", "X-Idempotency-Key", "Idempotency-Keys", "Idempotency"]);
      return { kind: "key:near-miss-name", block: block([[other, validKey]]), verdicts: ["missing_idempotency_key"] };
    }
    case "invalid":
      return { kind: "key:invalid", block: block([[name, rng.pick(INVALID_KEYS)()]]), verdicts: ["invalid_idempotency_key"] };
    case "dup-invalid-first":
      // The worker reads the first value; refusing two values would also say invalid.
      return { kind: "key:duplicated", block: headerBlock([[NAME, rng.pick(INVALID_KEYS)()], [name, validKey], ...noise]), verdicts: ["invalid_idempotency_key"] };
    case "dup-empty-first":
      return { kind: "key:duplicated", block: headerBlock([[NAME, ""], [name, validKey], ...noise]), verdicts: ["missing_idempotency_key", "invalid_idempotency_key"] };
    case "dup-two-valid":
      // Protocol: one value. Today the first wins; a worker refusing the pair would be right too.
      return { kind: "key:duplicated", block: headerBlock([[NAME, validKey], [name, `${validKey}-2`], ...noise]), verdicts: ["valid", "invalid_idempotency_key"] };
    case "known-issue":
      return {
        kind: "key:known-issue-undecodable",
        block: block([[NAME, validKey], rng.pick(KNOWN_ISSUE_LINES)()]),
        verdicts: ["valid", "invalid_idempotency_key", "missing_idempotency_key"],
      };
  }
}
