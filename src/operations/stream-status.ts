import type { NatsConnection } from "@nats-io/nats-core";
import { openStreamManager } from "../messaging/stream.js";

/** One durable consumer of a stream, as JetStream reports it. */
export interface ConsumerLag {
  name: string;
  /** Messages matching its filter not yet delivered. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  ackPending: number;
  /** Redeliveries so far. */
  redelivered: number;
  /** Highest stream sequence acknowledged with everything before it. */
  ackFloor: number;
  /** pending + ackPending: what the consumer still has to apply. */
  lag: number;
}

export interface StreamStatus {
  stream: string;
  exists: boolean;
  messages: number;
  firstSeq: number;
  lastSeq: number;
  /** Durable consumers, by name, at most 100 (ephemeral readers are left out). */
  consumers: ConsumerLag[];
}

/** The stream's last sequence and each durable consumer's lag; `exists: false` when there is no such stream. */
export async function streamStatus(nc: NatsConnection, stream: string): Promise<StreamStatus> {
  const jsm = await openStreamManager(nc);
  let info;
  try {
    info = await jsm.streams.info(stream);
  } catch (err) {
    if (/stream not found/i.test(String((err as Error).message))) return { stream, exists: false, messages: 0, firstSeq: 0, lastSeq: 0, consumers: [] };
    throw err;
  }
  const consumers: ConsumerLag[] = [];
  for await (const c of jsm.consumers.list(stream)) {
    if (!c.config.durable_name) continue;
    consumers.push({
      name: c.name,
      pending: c.num_pending,
      ackPending: c.num_ack_pending,
      redelivered: c.num_redelivered,
      ackFloor: c.ack_floor.stream_seq,
      lag: c.num_pending + c.num_ack_pending,
    });
    if (consumers.length >= 100) break;
  }
  consumers.sort((a, b) => a.name.localeCompare(b.name));
  return { stream, exists: true, messages: info.state.messages, firstSeq: info.state.first_seq, lastSeq: info.state.last_seq, consumers };
}
