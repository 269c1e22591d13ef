/**
 * A chain of commands across domains: when `orders` places an order, this
 * reactor makes `bank` reserve the order's total on the customer's account
 * (the account id is the customer id), then records the bank's answer on the
 * order. Each command's key is derived from the reactor's name and the event
 * id, so however often the event is delivered, or the reactor restarted,
 * funds are reserved once per order.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Kysely } from "kysely";
import { createClient } from "../../src/client/client.js";
import type { HeraldConsumer } from "../../src/consumer/index.js";
import { react } from "../../src/reactor/index.js";
import { reserveFunds } from "../bank/reserve-funds.js";
import { placeOrder } from "../orders/place-order.js";
import { recordPayment } from "../orders/record-payment.js";

export interface OrderPaymentsOptions {
  nc: NatsConnection;
  /** Records the bank's rejections in `herald_reactor_rejections`. Default: logged only. */
  db?: Kysely<any>;
  /** Domain of the orders. Default `orders`. */
  ordersDomain?: string;
  /** Domain of the bank. Default `bank`. */
  bankDomain?: string;
  /** The reactor's name (its durable). Default `order_payments`. */
  name?: string;
  /** How long the server waits for the reactor's ack before redelivering, in ms. Default 30000. */
  ackWaitMs?: number;
  /** Per-attempt timeout of the commands it sends, in ms. Default: the client's (15000). */
  timeoutMs?: number;
}

export function startOrderPayments(options: OrderPaymentsOptions): Promise<HeraldConsumer> {
  const ordersDomain = options.ordersDomain ?? "orders";
  const bank = createClient(options.nc, { domain: options.bankDomain ?? "bank", timeoutMs: options.timeoutMs });
  const orders = createClient(options.nc, { domain: ordersDomain, timeoutMs: options.timeoutMs });
  return react({
    nc: options.nc,
    db: options.db,
    name: options.name ?? "order_payments",
    domain: ordersDomain,
    ackWaitMs: options.ackWaitMs,
    filter: `${ordersDomain}.evt.order_placed`,
    schemas: { order_placed: placeOrder.events.order_placed },
    async react(event, ctx) {
      const { orderId, customerId, total } = event.data;
      if (total === 0) {
        await ctx.send(orders, recordPayment, { orderId, payment: "reserved" });
        return;
      }
      const reply = await ctx.send(bank, reserveFunds, { reservationId: orderId, accountId: customerId, amount: total });
      if (reply.status === "committed") await ctx.send(orders, recordPayment, { orderId, payment: "reserved" });
    },
    // The bank said no (no such account, not enough money): the order's payment is declined.
    async onRejected(rejection, event, ctx) {
      if (!rejection.subject.endsWith(".cmd.reserve_funds")) return;
      const { code, message } = rejection.reply.error;
      await ctx.send(orders, recordPayment, { orderId: event.data.orderId, payment: "declined", reason: `${code}: ${message}`.slice(0, 500) });
    },
  });
}
