import { join } from "node:path";
import { defineApp } from "../../src/commands/define-app.js";
import { packageRoot } from "../../src/db/migrator.js";
import { cancelCustomerOrders } from "./cancel-customer-orders.js";
import { cancelOrder } from "./cancel-order.js";
import { placeOrder } from "./place-order.js";

export { cancelCustomerOrders, cancelOrder, placeOrder };
export { MAX_OPEN_ORDERS, type OrderItem } from "./schemas.js";
export type { OrdersTables } from "./tables.js";

/**
 * A second domain, written the way an application writes its own: commands
 * with their schemas, events and rejections, plus the SQL for its table.
 * Serve it with `herald migrate --app <this module>` and `herald start --app <this module>`.
 */
export const ordersApp = defineApp({
  domain: "orders",
  description: "Herald example domain: orders placed and cancelled",
  version: "1.0.0",
  commands: [placeOrder, cancelOrder, cancelCustomerOrders],
  // SQL files are not compiled, so resolve them in the package, not beside this module.
  migrations: join(packageRoot(), "examples", "orders", "migrations"),
});

export default ordersApp;
