import { sql } from "kysely";
import { z } from "zod";
import { defineCommand, type CommandContext } from "../../src/commands/define-command.js";
import { orderCancelled, orderId } from "./schemas.js";
import type { OrdersTables } from "./tables.js";

export const cancelOrder = defineCommand({
  name: "cancel_order",
  description: "Cancels a placed order.",
  input: z.strictObject({ orderId, reason: z.string().min(1).max(500).optional() }),
  events: {
    order_cancelled: orderCancelled,
  },
  async handle(ctx: CommandContext<OrdersTables>, input) {
    const order = await ctx.tx.selectFrom("orders").select(["status"]).where("id", "=", input.orderId).executeTakeFirst();
    if (!order) return ctx.reject("order_not_found", `order ${input.orderId} does not exist`);
    if (order.status === "cancelled") return ctx.reject("order_already_cancelled", `order ${input.orderId} is already cancelled`);
    const reason = input.reason ?? null;
    await ctx.tx
      .updateTable("orders")
      .set({ status: "cancelled", cancel_reason: reason, cancelled_at: sql<string>`now()` })
      .where("id", "=", input.orderId)
      .execute();
    return {
      result: { orderId: input.orderId, status: "cancelled" as const },
      events: [{ name: "order_cancelled", data: { orderId: input.orderId, reason } }],
    };
  },
});
