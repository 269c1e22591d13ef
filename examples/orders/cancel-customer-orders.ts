import { sql } from "kysely";
import { z } from "zod";
import { defineCommand, type CommandContext } from "../../src/commands/define-command.js";
import { customerId, orderCancelled, orderId } from "./schemas.js";
import type { OrdersTables } from "./tables.js";

/**
 * A command with several events: one `order_cancelled` per open order (by order
 * id), then one `customer_orders_cancelled` that closes the series. Herald
 * publishes a command's events in this order, so a consumer that sees the
 * summary has seen every cancellation before it.
 */
export const cancelCustomerOrders = defineCommand({
  name: "cancel_customer_orders",
  description: "Cancels every open order of a customer, one event per order and a summary last.",
  input: z.strictObject({ customerId, reason: z.string().min(1).max(500).optional() }),
  events: {
    order_cancelled: orderCancelled,
    customer_orders_cancelled: z.object({ customerId, orderIds: z.array(orderId).min(1) }),
  },
  async handle(ctx: CommandContext<OrdersTables>, input) {
    const open = await ctx.tx
      .selectFrom("orders")
      .select("id")
      .where("customer_id", "=", input.customerId)
      .where("status", "=", "placed")
      .orderBy("id")
      .execute();
    if (open.length === 0) return ctx.reject("no_open_orders", `customer ${input.customerId} has no open orders`);
    const orderIds = open.map((o) => o.id);
    const reason = input.reason ?? null;
    await ctx.tx
      .updateTable("orders")
      .set({ status: "cancelled", cancel_reason: reason, cancelled_at: sql<string>`now()` })
      .where("id", "in", orderIds)
      .execute();
    return {
      result: { customerId: input.customerId, cancelled: orderIds },
      events: [
        ...orderIds.map((id) => ({ name: "order_cancelled" as const, data: { orderId: id, reason } })),
        { name: "customer_orders_cancelled" as const, data: { customerId: input.customerId, orderIds } },
      ],
    };
  },
});
