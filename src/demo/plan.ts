import { randomBytes } from "node:crypto";
import type { DemoOptions } from "./options.js";

export interface TransferInput {
  from: string;
  to: string;
  amount: number;
}

/** One planned request of the workload and what the demo expects of it. */
export type PlannedRequest =
  | {
      kind: "transfer";
      key: string;
      input: TransferInput;
      /** A rejection this transfer must get whatever the balances (amount above all money, unknown account). */
      mustReject?: "insufficient_funds" | "account_not_found";
      /** Re-send with the same key and payload once answered: must replay the stored reply. */
      resend: boolean;
      /** Re-send with the same key and another payload once answered: must be refused with 409. */
      reuseKey: boolean;
    }
  | {
      kind: "invalid";
      key: string;
      /** Command name (last subject segment). */
      command: string;
      /** Raw body text, sent without local validation so the worker is the one refusing it. */
      body: string;
      expect: "invalid_command" | "invalid_json" | "unknown_command";
      /** Sent through the typed client instead, which refuses it before sending. */
      local?: boolean;
      label: string;
    };

/** The run: unique ids so reruns on the same database never collide. */
export interface DemoPlan {
  runId: string;
  /** Every key of the run starts with it, so the database rows of the run can be found. */
  keyPrefix: string;
  accounts: string[];
  initialBalance: number;
  requests: PlannedRequest[];
}

const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Builds the run's requests: mostly transfers among hot accounts, with duplicates, a key reuse, must-rejects and invalid ones mixed in. */
export function planDemo(options: DemoOptions): DemoPlan {
  const runId = randomBytes(4).toString("hex");
  // Keys use `-` only: `_` and `%` are LIKE wildcards in the run's database queries.
  const keyPrefix = `demo-${runId}-`;
  const accounts = Array.from({ length: options.accounts }, (_, i) => `demo_${runId}_${String.fromCharCode(97 + i)}`);
  const allMoney = options.accounts * options.initialBalance;
  const requests: PlannedRequest[] = [];

  const mustRejects = Math.max(2, Math.round(options.transfers * 0.03));
  for (let i = 0; i < options.transfers; i++) {
    const from = accounts[randomInt(0, accounts.length - 1)]!;
    const others = accounts.filter((a) => a !== from);
    const to = others[randomInt(0, others.length - 1)]!;
    const input = { from, to, amount: randomInt(1, Math.max(1, Math.floor(options.initialBalance / 10))) };
    const key = `${keyPrefix}t-${i}`;
    if (i < mustRejects) {
      // Half ask for more than all the money there is, half name an account that does not exist.
      const unknown = i % 2 === 1;
      requests.push({
        kind: "transfer",
        key,
        input: unknown ? { ...input, to: `demo_${runId}_ghost` } : { ...input, amount: allMoney + 1 },
        mustReject: unknown ? "account_not_found" : "insufficient_funds",
        resend: false,
        reuseKey: false,
      });
    } else {
      requests.push({ kind: "transfer", key, input, resend: i % 10 === 5, reuseKey: i === mustRejects });
    }
  }

  const [a, b] = [accounts[0]!, accounts[1]!];
  const invalid: Array<Omit<Extract<PlannedRequest, { kind: "invalid" }>, "kind" | "key">> = [
    { label: "from equals to", command: "transfer", body: JSON.stringify({ from: a, to: a, amount: 1 }), expect: "invalid_command" },
    { label: "amount 0", command: "transfer", body: JSON.stringify({ from: a, to: b, amount: 0 }), expect: "invalid_command" },
    { label: "unknown field", command: "transfer", body: JSON.stringify({ from: a, to: b, amount: 1, memo: "hi" }), expect: "invalid_command" },
    { label: "not JSON", command: "transfer", body: `{"from":"${a}",`, expect: "invalid_json" },
    { label: "unknown command", command: "transfer_all", body: "{}", expect: "unknown_command" },
    { label: "amount as text (refused by the client)", command: "transfer", body: JSON.stringify({ from: a, to: b, amount: "5" }), expect: "invalid_command", local: true },
  ];
  invalid.forEach((r, i) => requests.push({ kind: "invalid", key: `${keyPrefix}bad-${i}`, ...r }));

  return { runId, keyPrefix, accounts, initialBalance: options.initialBalance, requests: shuffle(requests) };
}
