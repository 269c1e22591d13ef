import { join } from "node:path";
import { defineApp } from "../../src/commands/define-app.js";
import { packageRoot } from "../../src/db/migrator.js";
import { deposit } from "./deposit.js";
import { openAccount } from "./open-account.js";
import { reserveFunds } from "./reserve-funds.js";
import { transfer } from "./transfer.js";

export { deposit, openAccount, reserveFunds, transfer };
export type { BankTables } from "./tables.js";

/** The reference domain: accounts, deposits and transfers that never overdraw. */
export const bankApp = defineApp({
  domain: "bank",
  description: "Herald reference domain: accounts, deposits and transfers",
  version: "1.0.0",
  commands: [openAccount, deposit, transfer, reserveFunds],
  // SQL files are not compiled, so resolve them in the package, not beside this module.
  migrations: join(packageRoot(), "examples", "bank", "migrations"),
});

export default bankApp;
