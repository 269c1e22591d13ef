import { canonicalJson } from "../../src/idempotency/fingerprint.js";
import { badBody, hostileTextBody, validShaped, type BadBody, type BodyContext } from "./bodies.js";
import { badKeyHeaders, validKeyHeaders, type HeaderCase } from "./headers.js";
import { objectText, q, reformatted, spellInteger, utf8, type Fields } from "./json-text.js";
import { classifyBody, expectedCodes } from "./oracle.js";
import { Rng } from "./prng.js";
import { BankModel, COMMANDS } from "./valid.js";

/**
 * The whole run as a sequence: valid requests (planned up front, with their
 * exact results) interleaved with bad ones (materialised lazily from the seed
 * and their position, so 30,000 of them cost no memory until sent).
 */

export interface PlanOptions {
  seed: number;
  requests: number;
  maxPayload: number;
  /** Also send inputs that currently break the worker (see known-issues.test.ts). */
  includeKnownIssues: boolean;
}

export type Expectation =
  | { type: "error"; codes: readonly string[] }
  /** Valid-shaped but naming accounts that do not exist: a stored rejection. */
  | { type: "rejected"; code: string; key: string }
  /** The same request as valid op `of`: its stored reply with duplicate true. */
  | { type: "replay"; of: number }
  | { type: "no_responders" };

export interface BadRequest {
  index: number;
  kind: string;
  /** What the request abuses, for the per-kind counts (`header:invalid`, `body:invalid-utf8`, `replay`, …). */
  tags: readonly string[];
  /** Subject after `<domain>.cmd.`. */
  tail: string;
  headers: Uint8Array | undefined;
  body: Uint8Array;
  expect: Expectation;
  /** Valid ops that must have been answered before this is sent (it names their keys). */
  gate: number;
}

export type Entry = { type: "valid"; op: number } | { type: "bad"; index: number; gate: number };

export interface Plan {
  readonly options: PlanOptions;
  readonly model: BankModel;
  readonly entries: readonly Entry[];
  badRequest(index: number, gate: number): BadRequest;
}

/** Share of valid requests in the mix. */
const VALID_SHARE = 0.12;

export function buildPlan(options: PlanOptions): Plan {
  const model = new BankModel(options.seed);
  const entries: Entry[] = [];
  for (let i = 0; i < options.requests; i++) {
    const rng = Rng.forItem(options.seed, i);
    if (i < 4 || rng.chance(VALID_SHARE)) entries.push({ type: "valid", op: model.next(rng).index });
    else entries.push({ type: "bad", index: i, gate: model.ops.length });
  }
  return { options, model, entries, badRequest: (index, gate) => materialise(options, model, index, gate) };
}

const TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-_-!@#$%^&()[]{}<>?,;:'\"=+~|/\\`";
const TOKEN_EXTRA = ["ключ", "😀", "é", "\u200b", "ß", "中"];

/** A subject token that names no command: random, or a near miss of a real name. */
function unknownToken(rng: Rng): string {
  const near = ["Deposit", "DEPOSIT", "deposits", "open-account", "openaccount", "transfer_", "_transfer", "cmd", "evt", "0"];
  if (rng.chance(0.3)) return rng.pick(near);
  let token = "";
  const length = rng.weighted([[8, rng.int(1, 64)], [1, rng.int(65, 300)]]);
  while (token.length < length) token += rng.chance(0.95) ? TOKEN_CHARS[rng.int(0, TOKEN_CHARS.length - 1)]! : rng.pick(TOKEN_EXTRA);
  return (COMMANDS as readonly string[]).includes(token) ? `${token}x` : token;
}

/** A bad body whose declared code the oracle agrees with. */
function checkedBadBody(ctx: BodyContext, index: number): BadBody & { code: NonNullable<BadBody["code"]> } {
  const body = badBody(ctx);
  const actual = classifyBody(ctx.command, body.bytes, ctx.maxPayload);
  if (actual === "valid") {
    // Random bytes that happen to form a valid command: astronomically rare; send it as not JSON instead.
    if (body.code === undefined) return { kind: body.kind, bytes: utf8("{"), code: "invalid_json" };
    throw new Error(`generator bug: ${body.kind} body of item ${index} is valid: ${new TextDecoder().decode(body.bytes).slice(0, 200)}`);
  }
  if (body.code !== undefined && body.code !== actual) {
    throw new Error(`generator bug: ${body.kind} body of item ${index} claims ${body.code} but is ${actual}`);
  }
  return { ...body, code: actual };
}

function respelled(fields: Fields, rng: Rng): Fields {
  return fields.map(([k, v]) => (/^-?[\d.eE+]+$/.test(v) ? ([k, spellInteger(rng, Number(v))] as const) : ([k, v] as const)));
}

function materialise(options: PlanOptions, model: BankModel, index: number, gate: number): BadRequest {
  // A stream apart from the one that decided "bad", so adding kinds never shifts the valid traffic.
  const rng = Rng.forItem(options.seed ^ 0x5bd1e995, index);
  const command = rng.pick(COMMANDS);
  const ctx: BodyContext = { rng, command, accounts: model.accountsAt(gate), index, maxPayload: options.maxPayload };
  const past = gate > 0 ? model.ops[rng.int(0, gate - 1)]! : undefined;
  const kind = rng.weighted([
    [70, "malformed"], [6, "unknown-subject"], [1, "deep-subject"], [6, "unknown-account"],
    [past ? 4 : 0, "key-reuse"], [past ? 4 : 0, "replay"], [options.includeKnownIssues ? 2 : 0, "hostile-text"],
  ] as const);
  const base = { index, gate, tail: command as string, tags: [kind as string] };

  if (kind === "unknown-subject") {
    const h = rng.chance(0.5) ? validKeyHeaders(rng, `b-${index}`) : badKeyHeaders(rng, `b-${index}`, options.includeKnownIssues);
    const body = rng.chance(0.3) ? utf8(objectText(validShaped(ctx))) : checkedBadBody(ctx, index).bytes;
    // Decided from the subject alone, before size, key and body.
    return { ...base, kind: "unknown-subject", tail: unknownToken(rng), headers: h.block, body, expect: { type: "error", codes: ["unknown_command"] } };
  }
  if (kind === "deep-subject") {
    const h = validKeyHeaders(rng, `b-${index}`);
    const tail = `${command}.${rng.pick(["x", "a.b", "deposit", "1"])}`;
    return { ...base, kind: "deep-subject", tail, headers: h.block, body: utf8(objectText(validShaped(ctx))), expect: { type: "no_responders" } };
  }
  if (kind === "unknown-account") {
    const key = `u-${index}-${options.seed.toString(36)}`;
    const ghost = `ghost-${index}`;
    const real = ctx.accounts.length > 0 ? rng.pick(ctx.accounts) : `ghost-${index}-b`;
    const fields: Fields =
      command === "deposit" ? [["accountId", q(ghost)], ["amount", "1"]]
        : command === "transfer" ? rng.shuffle([["from", q(ghost)], ["to", q(real)], ["amount", "1"]] as const)
          : [["from", q(real)], ["to", q(ghost)], ["amount", "1"]];
    const tail = command === "open_account" ? "transfer" : command;
    const body = utf8(objectText(fields, rng));
    const expect = { type: "rejected", code: "account_not_found", key } as const;
    return { ...base, kind: `unknown-account:${command}`, tail, headers: validKeyHeaders(rng, key).block, body, expect };
  }
  if (kind === "replay" && past) {
    const body = utf8(reformatted(respelled(past.fields, rng), rng));
    return { ...base, kind: "replay", tail: past.command, headers: validKeyHeaders(rng, past.key).block, body, expect: { type: "replay", of: past.index } };
  }
  if (kind === "key-reuse" && past) {
    let fields = validShaped(ctx);
    if (command === past.command && canonicalJson(JSON.parse(objectText(fields))) === canonicalJson(JSON.parse(objectText(past.fields)))) {
      fields = fields.map(([k, v]) => (k === "amount" ? ([k, String(Number(v) + 1)] as const) : ([k, v] as const)));
    }
    const body = utf8(objectText(fields, rng));
    return { ...base, kind: "key-reuse", headers: validKeyHeaders(rng, past.key).block, body, expect: { type: "error", codes: ["idempotency_key_reused"] } };
  }
  if (kind === "hostile-text") {
    const body = hostileTextBody(ctx);
    const headers = validKeyHeaders(rng, `h-${index}`).block;
    return { ...base, kind: body.kind, tail: "open_account", headers, body: body.bytes, expect: { type: "error", codes: ["invalid_command", "invalid_json"] } };
  }

  // Malformed: header abuse and/or a bad body, judged in the protocol's order.
  const keyed = rng.chance(0.55);
  let h: HeaderCase;
  if (keyed) {
    // Fresh keys, and keys of valid requests already answered or still to come: none may be reserved.
    const future = model.ops[gate + rng.int(0, 3)];
    const key = rng.weighted([[5, `b-${index}`], [past ? 3 : 0, past?.key ?? ""], [future ? 2 : 0, future?.key ?? ""], [1, "~"]]);
    h = validKeyHeaders(rng, key);
  } else {
    h = badKeyHeaders(rng, `b-${index}`, options.includeKnownIssues);
  }
  // With a bad key, often a body that would be executed: a key check that let it through would show.
  const shaped = !h.verdicts.includes("valid") && rng.chance(0.5);
  const body = shaped ? { kind: "valid-shaped", bytes: utf8(objectText(validShaped(ctx), rng)), code: "valid" as const } : checkedBadBody(ctx, index);
  const codes = expectedCodes(h.verdicts, body.bytes.byteLength > options.maxPayload ? "payload_too_large" : body.code);
  const tags = [`header:${h.kind.slice(4)}`, `body:${body.kind.split(":")[0]}`];
  return { ...base, kind: `${h.kind}|${body.kind}`, tags, headers: h.block, body: body.bytes, expect: { type: "error", codes } };
}
