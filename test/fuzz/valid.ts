import type { Rng } from "./prng.js";
import { objectText, q, spellInteger, utf8, type Fields } from "./json-text.js";

/**
 * The valid traffic interleaved with the hostile one, and the model of its
 * effects. Valid requests run one at a time, so each one's exact result is
 * known when it is planned; nothing else the fuzzer sends may change a balance.
 */

export type CommandName = "open_account" | "deposit" | "transfer";
export const COMMANDS: readonly CommandName[] = ["open_account", "deposit", "transfer"];

export type ValidExpect = { status: "committed"; result: unknown } | { status: "rejected"; code: string };

export interface ValidOp {
  /** Position among the valid requests (0, 1, 2, …). */
  index: number;
  key: string;
  command: CommandName;
  fields: Fields;
  body: Uint8Array;
  /** A well-formed W3C traceparent, sometimes. */
  traceparent: string | undefined;
  expect: ValidExpect;
}

/** Unusual but valid owner text: every piece is legal in a JSON string and in the database. */
const OWNER_PIECES = [
  "Ada", "Zoë", "Łukasz", "李小龍", "Ω", "👩‍💻", "😀", "\u202eRTL", "e\u0301", "\u2028", "\u2029", "\u0001", "\u001f", "\u007f",
  '"', "\\", "/", "</script>", "' OR 1=1 --", "${x}", "{{x}}", "\uffff", "\ufeff", " ", "null", "__proto__", "%s%n",
];

function owner(rng: Rng): string {
  if (rng.chance(0.05)) return "O".repeat(200); // exactly the limit
  let text = "";
  const pieces = rng.int(1, 6);
  // Whole pieces only: cutting an emoji would leave a lone surrogate (a known issue, see known-issues.test.ts).
  for (let i = 0; i < pieces; i++) text += rng.pick(OWNER_PIECES);
  return text;
}

/** A key of visible ASCII, unique to the op; sometimes the full 255 characters. */
function validKey(rng: Rng, seed: number, index: number): string {
  const base = `v${seed.toString(36)}-${index}-`;
  const len = rng.chance(0.1) ? 255 : rng.int(base.length, 48);
  let key = base;
  while (key.length < len) key += String.fromCharCode(rng.int(0x21, 0x7e));
  return key;
}

function amount(rng: Rng, max: number): number {
  return rng.weighted([
    [6, rng.int(1, Math.max(1, Math.min(max, 1000)))],
    [3, rng.int(1, 1_000_000)],
    [1, 1e12],
  ]);
}

/** The bank as the valid requests leave it. */
export class BankModel {
  readonly balances = new Map<string, number>();
  /** Account ids in the order they were opened. */
  readonly opened: string[] = [];
  readonly ops: ValidOp[] = [];
  /** `openedBefore[i]`: accounts that exist once valid ops 0..i-1 have run. */
  readonly openedBefore: number[] = [0];
  committed = 0;
  rejected = 0;

  constructor(private readonly seed: number) {}

  /** Plans the next valid request from `rng` and applies its expected effect. */
  next(rng: Rng): ValidOp {
    const index = this.ops.length;
    const key = validKey(rng, this.seed, index);
    const traceparent = rng.chance(0.3)
      ? `00-${hex(rng, 32)}-${hex(rng, 16)}-0${rng.int(0, 1)}`
      : undefined;
    const accounts = this.opened;
    const kind = accounts.length < 2 ? "open" : rng.weighted([[22, "open"], [3, "reopen"], [38, "deposit"], [37, "transfer"]] as const);
    let command: CommandName;
    let fields: Fields;
    let expect: ValidExpect;
    if (kind === "open" || kind === "reopen") {
      command = "open_account";
      const id = kind === "open" ? `acct-${index}` : rng.pick(accounts);
      const initial = rng.chance(0.3) ? undefined : rng.weighted([[2, 0], [6, rng.int(1, 1_000_000)], [1, 1e12]]);
      fields = [["accountId", q(id)], ["owner", q(owner(rng))]];
      if (initial !== undefined) fields = [...fields, ["initialBalance", spellInteger(rng, initial)]];
      if (kind === "reopen") expect = { status: "rejected", code: "account_exists" };
      else {
        this.balances.set(id, initial ?? 0);
        this.opened.push(id);
        expect = { status: "committed", result: { accountId: id, balance: initial ?? 0 } };
      }
    } else if (kind === "deposit") {
      command = "deposit";
      const id = rng.pick(accounts);
      const n = amount(rng, 1e12);
      fields = [["accountId", q(id)], ["amount", spellInteger(rng, n)]];
      const balance = this.balances.get(id)! + n;
      this.balances.set(id, balance);
      expect = { status: "committed", result: { accountId: id, balance } };
    } else {
      command = "transfer";
      const [from, to] = rng.shuffle(accounts).slice(0, 2) as [string, string];
      const fromBalance = this.balances.get(from)!;
      // Amounts stay within the schema's 1..10^12, so an unaffordable one is a rejection, not invalid.
      const affordable = fromBalance > 0 && (fromBalance >= 1e12 || rng.chance(0.75));
      const n = affordable ? rng.int(1, Math.min(fromBalance, 1e12)) : rng.int(fromBalance + 1, Math.min(fromBalance + 1000, 1e12));
      fields = [["from", q(from)], ["to", q(to)], ["amount", spellInteger(rng, n)]];
      if (!affordable) expect = { status: "rejected", code: "insufficient_funds" };
      else {
        const toBalance = this.balances.get(to)! + n;
        this.balances.set(from, fromBalance - n);
        this.balances.set(to, toBalance);
        expect = { status: "committed", result: { from, to, amount: n, fromBalance: fromBalance - n, toBalance } };
      }
    }
    fields = rng.shuffle(fields);
    if (expect.status === "committed") this.committed++;
    else this.rejected++;
    const op: ValidOp = { index, key, command, fields, body: utf8(objectText(fields, rng)), traceparent, expect };
    this.ops.push(op);
    this.openedBefore.push(this.opened.length);
    return op;
  }

  /** Accounts that exist once the first `gate` valid ops have run. */
  accountsAt(gate: number): readonly string[] {
    return this.opened.slice(0, this.openedBefore[gate] ?? this.opened.length);
  }
}

function hex(rng: Rng, n: number): string {
  let s = "";
  while (s.length < n) s += rng.int(0, 15).toString(16);
  // An all-zero id is invalid in W3C trace context.
  return /^0+$/.test(s) ? `1${s.slice(1)}` : s;
}
