import assert from "node:assert/strict";
import { test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { deposit, openAccount, transfer } from "../../examples/bank/index.js";
import { createClient, CommandRequestError, type CommandInput, type CommandResult } from "../../src/index.js";

/**
 * Type-level checks, enforced by `npm run typecheck`: a command's input and
 * result types flow from its definition through the client. The function is
 * never called; the `@ts-expect-error` lines fail the typecheck if they compile.
 */
async function typeChecks(nc: NatsConnection): Promise<void> {
  const client = createClient(nc, { domain: "bank" });

  const r = await client.send(transfer, { from: "alice", to: "bob", amount: 10 });
  if (r.status === "committed") {
    const n: number = r.result.fromBalance;
    const to: string = r.result.to;
    const duplicate: boolean = r.duplicate;
    void [n, to, duplicate];
    // @ts-expect-error the transfer result has no `balance`
    void r.result.balance;
  } else {
    const code: string = r.error.code;
    void code;
    // @ts-expect-error a rejected reply carries no result
    void r.result;
  }

  // @ts-expect-error amount must be a number
  await client.send(transfer, { from: "alice", to: "bob", amount: "10" });
  // @ts-expect-error `to` is required
  await client.send(transfer, { from: "alice", amount: 10 });
  // Optional fields may be left out.
  await client.send(openAccount, { accountId: "carol", owner: "Carol" });

  const d = await client.send(deposit, { accountId: "bob", amount: 5 }, { idempotencyKey: "k-1", timeoutMs: 500 });
  if (d.status === "committed") {
    const balance: number = d.result.balance;
    void balance;
  }

  // Without definitions the result is unknown until narrowed.
  const raw = await client.sendRaw("bank.cmd.deposit", '{"accountId":"bob","amount":5}');
  if (raw.status === "committed") {
    // @ts-expect-error `result` is unknown without the definition
    void raw.result.balance;
  }

  const input: CommandInput<typeof transfer> = { from: "a", to: "b", amount: 1 };
  const result: CommandResult<typeof deposit> = { accountId: "a", balance: 1 };
  void [input, result];

  try {
    await client.send(deposit, { accountId: "bob", amount: 5 });
  } catch (err) {
    if (err instanceof CommandRequestError) {
      const status: number = err.status;
      const key: string | undefined = err.idempotencyKey;
      void [status, key, err.code, err.details];
    }
  }
}

test("the type-level checks compile (checked by npm run typecheck)", () => {
  assert.equal(typeof typeChecks, "function");
});
