import type { Rng } from "./prng.js";
import { bytesOf, objectText, q, replaceField, utf8, withField, withoutField, type Fields } from "./json-text.js";
import type { CommandName } from "./valid.js";

/**
 * Bad bodies. Each generator states the code the protocol's order of checks
 * gives it (size, then UTF-8/JSON, then schema); oracle.ts cross-checks the
 * statement so a generator mistake is reported as such, not as a worker bug.
 */

export type BodyCode = "payload_too_large" | "invalid_json" | "invalid_command";

export interface BadBody {
  kind: string;
  bytes: Uint8Array;
  /** The code the body earns once the key is fine; undefined: let the oracle decide (random bytes). */
  code: BodyCode | undefined;
}

export interface BodyContext {
  rng: Rng;
  command: CommandName;
  /** Accounts that exist: a body that slipped through would visibly move their money. */
  accounts: readonly string[];
  index: number;
  maxPayload: number;
}

/** A body that passes the schema (used only with a bad key, or as the base of a mutation). */
export function validShaped(ctx: BodyContext): Fields {
  const { rng, accounts } = ctx;
  const real = (i: number) => accounts[i % Math.max(1, accounts.length)] ?? `acct-${i}`;
  const first = rng.int(0, 1000);
  if (ctx.command === "open_account") return [["accountId", q(`x-${ctx.index}`)], ["owner", q("Mallory")], ["initialBalance", "1000"]];
  if (ctx.command === "deposit") return [["accountId", q(real(first))], ["amount", String(rng.int(1, 1000))]];
  const from = real(first);
  const to = accounts.length > 1 ? real(first + rng.int(1, accounts.length - 1)) : "acct-other";
  return [["from", q(from)], ["to", q(to === from ? `${to}-x` : to)], ["amount", "1"]];
}

const numericField = (c: CommandName) => (c === "open_account" ? "initialBalance" : "amount");
const stringField = (c: CommandName) => (c === "transfer" ? "from" : "accountId");

/** Number texts that are valid JSON but out of range or not integers for an amount (and for initialBalance). */
const BAD_NUMBERS = [
  "1e400", "-1e400", "1e13", "9007199254740993", "9007199254740992", "-9007199254740993", "1000000000001", "1.5", "0.1",
  "-1", "4.9e-324", `1${"0".repeat(400)}`, "123456789012345678901234567890",
  '"1"', '"NaN"', '"Infinity"', '"1e3"', "true", "null", "[1]", '{"$gt":0}', "{}",
];
/** And for an amount only (0 and -0 are fine as an initial balance). */
const BAD_AMOUNTS = [...BAD_NUMBERS, "0", "-0", "0.0", "-0.0", "1e-400", `0.${"0".repeat(400)}1`];
/** Number texts that are not JSON at all. */
const NOT_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "0x10", "01", "+1", "1.", ".5", "1e", "--1", "1_000", "1,5", "١٢٣", "0b1", "1e+", "- 1"];
const WRONG_TYPES = ["1", "-7", "true", "false", "null", "[]", '["a"]', "{}", '{"id":"a"}', '""', `${"[".repeat(50)}${"]".repeat(50)}`];
const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "__defineGetter__", "isPrototypeOf"];
const PROTO_VALUES = ['{"polluted":true}', '{"prototype":{"polluted":true}}', "null", "1", '"x"', "[]", '{"amount":5,"isAdmin":true}'];
const ODD_KEYS = ["", " ", "a\r\nb", "\u0000", "\ud800", "\udfff", "accountId ", "AccountId", "amount\u0000", "\u200b", "k".repeat(10_000), "ключ", "😀", "\\", '"'];

/** Byte sequences that are not UTF-8: lone continuations, overlongs, surrogates, > U+10FFFF, truncations. */
export const INVALID_UTF8: ReadonlyArray<readonly number[]> = [
  [0x80], [0xbf], [0x80, 0x80], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xf0, 0x80, 0x80, 0xaf], [0xc0, 0x80],
  [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xed, 0xa0, 0xbd, 0xed, 0xb2, 0xa9], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe], [0xff], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98],
];

type Generator = (ctx: BodyContext) => BadBody;

const text = (kind: string, body: string, code: BodyCode): BadBody => ({ kind, bytes: utf8(body), code });

/** `[`×n or `{"a":`×n, closed or not; sized to stay under or go over the limit. */
function nested(ctx: BodyContext): BadBody {
  const { rng } = ctx;
  const depth = rng.pick([100, 1000, 10_000, 10_000, 30_000, 70_000]);
  const variant = rng.pick(["open-arrays", "closed-arrays", "objects", "in-field"] as const);
  let body: string;
  let code: BodyCode;
  if (variant === "open-arrays") [body, code] = ["[".repeat(depth), "invalid_json"];
  else if (variant === "closed-arrays") [body, code] = ["[".repeat(depth) + "]".repeat(depth), "invalid_command"];
  else if (variant === "objects") [body, code] = ['{"a":'.repeat(depth / 5) + "1" + "}".repeat(depth / 5), "invalid_command"];
  else [body, code] = [objectText(withField(validShaped(ctx), "x", "[".repeat(depth / 2) + "]".repeat(depth / 2))), "invalid_command"];
  return { kind: `nested:${variant}`, bytes: utf8(body), code: utf8(body).length > ctx.maxPayload ? "payload_too_large" : code };
}

/** A body of `size` bytes: the base object padded through an unknown field. */
function sized(ctx: BodyContext, size: number): Uint8Array {
  const fields = validShaped(ctx);
  const pad = Math.max(0, size - utf8(objectText(withField(fields, "pad", '""'))).length);
  return utf8(objectText(withField(fields, "pad", q("p".repeat(pad)))));
}

/** A transfer from an account to itself (the cross-field rule). */
function sameAccount(fields: Fields): Fields {
  const from = fields.find(([k]) => k === "from")![1];
  return replaceField(fields, "to", from);
}

const GENERATORS: ReadonlyArray<readonly [number, Generator]> = [
  [6, ({ rng }) => ({ kind: "random-bytes", bytes: rng.bytes(rng.pick([1, 2, 16, 256, 4096])), code: undefined })],
  [6, (ctx) => {
    const full = objectText(validShaped(ctx), ctx.rng);
    return text("truncated", full.slice(0, ctx.rng.int(0, full.trimEnd().length - 1)), "invalid_json");
  }],
  [6, nested],
  [5, (ctx) => {
    const field = ctx.rng.pick([stringField(ctx.command), ...(ctx.command === "open_account" ? ["owner"] : [])]);
    // One character over the field's limit, or far over it; written plainly or as \u escapes.
    const n = ctx.rng.pick([field === "owner" ? 201 : 65, 1000, 60_000, 70_000]);
    const value = ctx.rng.chance(0.5) ? "A".repeat(n) : "\\u0041".repeat(n);
    const body = objectText(replaceField(validShaped(ctx), field, `"${value}"`));
    return text("huge-string", body, utf8(body).length > ctx.maxPayload ? "payload_too_large" : "invalid_command");
  }],
  [8, (ctx) => {
    const list = ctx.command === "open_account" ? BAD_NUMBERS : BAD_AMOUNTS;
    const body = objectText(replaceField(validShaped(ctx), numericField(ctx.command), ctx.rng.pick(list)));
    return text("bad-number", body, "invalid_command");
  }],
  [4, (ctx) => text("number-not-json", objectText(replaceField(validShaped(ctx), numericField(ctx.command), ctx.rng.pick(NOT_JSON_NUMBERS))), "invalid_json")],
  [6, (ctx) => {
    const fields = validShaped(ctx);
    const [key] = ctx.rng.pick(fields.filter(([k]) => k !== "initialBalance"));
    const value = ctx.rng.pick(key === "amount" ? WRONG_TYPES.filter((v) => !/^-?\d+$/.test(v) || v === "-7") : WRONG_TYPES);
    return text("wrong-type", objectText(replaceField(fields, key, value)), "invalid_command");
  }],
  [6, (ctx) => {
    const { rng } = ctx;
    const key = rng.pick(PROTO_KEYS);
    const value = rng.pick(PROTO_VALUES);
    const fields = validShaped(ctx);
    const where = rng.pick(["top", "replacing-field", "nested-field"] as const);
    let body: Fields;
    if (where === "top") body = rng.shuffle(withField(fields, key, value));
    else if (where === "replacing-field") body = withField(withoutField(fields, numericField(ctx.command)), "__proto__", `{${q(numericField(ctx.command))}:5}`);
    else body = replaceField(fields, stringField(ctx.command), `{${q(key)}:${value}}`);
    return text(`proto-key:${where}`, objectText(body), "invalid_command");
  }],
  [8, (ctx) => {
    const { rng } = ctx;
    const base = utf8(objectText(validShaped(ctx)));
    const at = rng.int(0, base.length);
    return { kind: "invalid-utf8", bytes: bytesOf(base.slice(0, at), rng.pick(INVALID_UTF8), base.slice(at)), code: "invalid_json" };
  }],
  [4, (ctx) => {
    const inner = objectText(validShaped(ctx));
    return text("not-an-object", ctx.rng.pick(["[]", `[${inner}]`, '"x"', q(inner), "42", "-0", "null", "true", "false"]), "invalid_command");
  }],
  [3, ({ rng }) => {
    const body = rng.pick<string | Uint8Array>(["", " ", "\n\t\r ", "\u00a0", "\u2028", bytesOf([0xef, 0xbb, 0xbf]), bytesOf([0xef, 0xbb, 0xbf], "{")]);
    return { kind: "blank", bytes: typeof body === "string" ? utf8(body) : body, code: "invalid_json" };
  }],
  [6, (ctx) => {
    const body = objectText(ctx.rng.shuffle(withField(validShaped(ctx), ctx.rng.pick(ODD_KEYS), ctx.rng.pick(['1', "null", '"v"']))));
    return text("unknown-field", body, "invalid_command");
  }],
  [3, (ctx) => {
    const fields = validShaped(ctx);
    const [key, value] = ctx.rng.pick(fields);
    // Duplicate keys: JSON.parse keeps the last, which is the bad one here.
    const bad = key === "amount" || key === "initialBalance" ? '"x"' : "-1";
    return text("duplicate-json-key", objectText(ctx.rng.chance(0.5) ? [...fields, [key, bad]] : [[key, value], ...fields, [key, bad]]), "invalid_command");
  }],
  [4, (ctx) => {
    const c = ctx.command;
    const options: Fields[] =
      c === "open_account"
        ? [
            replaceField(validShaped(ctx), "owner", '""'),
            replaceField(validShaped(ctx), "owner", q("o".repeat(201))),
            withoutField(validShaped(ctx), "owner"),
            replaceField(validShaped(ctx), "accountId", q("bad id")),
          ]
        : c === "transfer"
          ? [sameAccount(validShaped(ctx)), withoutField(validShaped(ctx), "to"), replaceField(validShaped(ctx), "from", q("a".repeat(65)))]
          : [withoutField(validShaped(ctx), "accountId"), replaceField(validShaped(ctx), "accountId", q("al/ice")), replaceField(validShaped(ctx), "accountId", q("alice\n"))];
    return text("schema-rule", objectText(ctx.rng.pick(options)), "invalid_command");
  }],
  [5, (ctx) => {
    // Just under the limit (judged on content) or just over it (413).
    const over = ctx.rng.chance(0.5);
    const size = over ? ctx.maxPayload + ctx.rng.pick([1, 2, 100, 4096, 200_000]) : ctx.maxPayload - ctx.rng.int(0, 64);
    return { kind: over ? "size:over" : "size:under", bytes: sized(ctx, size), code: over ? "payload_too_large" : "invalid_command" };
  }],
  [2, (ctx) => ({ kind: "size:over-garbage", bytes: ctx.rng.bytes(ctx.maxPayload + ctx.rng.int(1, 70_000)), code: "payload_too_large" })],
];

export function badBody(ctx: BodyContext): BadBody {
  return ctx.rng.weighted(GENERATORS)(ctx);
}

/** Text the database cannot hold in an accepted string field: today a 500 (known-issues.test.ts). */
export function hostileTextBody(ctx: BodyContext): BadBody {
  const owner = ctx.rng.pick(["a\\u0000b", "\\u0000", "\\ud800", "x\\udfffy", "\\udc00\\ud800"]);
  return text("known-issue:hostile-text", objectText([["accountId", q(`h-${ctx.index}`)], ["owner", `"${owner}"`]]), "invalid_command");
}
