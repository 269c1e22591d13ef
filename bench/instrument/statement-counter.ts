/**
 * Loaded into the bench's targets with `node --import` (NODE_OPTIONS): counts
 * the queries the pg driver sends and the statements in them, and prints the
 * counts as one JSON line on stdout whenever the process gets SIGUSR2, so the
 * bench reads them at the start and the end of the measured window. The first
 * line announces the process, so the bench signals only processes that can
 * answer (SIGUSR2 ends any other).
 */
import { writeSync } from "node:fs";
import pg from "pg";
import { statementCount } from "./statement-count.js";

let queries = 0;
let statements = 0;
let seq = 0;
const line = (value: object) => writeSync(1, `${JSON.stringify(value)}\n`);

const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
(pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
  const config = args[0] as string | { text?: string } | undefined;
  queries++;
  // A statement sent with COMMIT under one Sync (Herald's driver) carries COMMIT beside its text.
  statements += statementCount(typeof config === "string" ? config : config?.text) + ((config as { commits?: boolean } | undefined)?.commits === true ? 1 : 0);
  return original.apply(this, args);
};

process.on("SIGUSR2", () => line({ type: "statements", pid: process.pid, seq: ++seq, queries, statements }));
line({ type: "statement-counter", pid: process.pid });
