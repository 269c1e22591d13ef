/**
 * The ceiling: a bare NATS responder that answers every transfer request with a
 * small JSON reply and touches no database. Nothing with a database can beat it.
 * Reads {"natsUrl","domain"} as one JSON line on stdin; prints {"type":"ready"}.
 */
import { readConfig } from "../shared/read-config.js";
import { connect } from "@nats-io/transport-node";

interface Config {
  natsUrl: string;
  domain: string;
}


const config = await readConfig<Config>();
const nc = await connect({ servers: config.natsUrl.split(","), name: "herald-bench-ceiling" });
const reply = new TextEncoder().encode(JSON.stringify({ status: "committed", duplicate: false }));
let answered = 0;
const sub = nc.subscribe(`${config.domain}.cmd.transfer`, {
  queue: `bench-${config.domain}`,
  callback: (err, msg) => {
    if (err) return;
    answered++;
    msg.respond(reply);
  },
});
process.stdout.write(`${JSON.stringify({ type: "ready" })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await sub.drain();
  await nc.drain();
  process.stdout.write(`${JSON.stringify({ type: "stopped", answered })}\n`);
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
