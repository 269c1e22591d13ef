import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/** True when a durable consumer has nothing left to deliver and nothing awaiting an ack. */
export async function durableSettled(nc: NatsConnection, stream: string, durable: string): Promise<boolean> {
  const info = await (await jetstreamManager(nc)).consumers.info(stream, durable);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}
