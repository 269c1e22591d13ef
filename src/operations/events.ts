import { DeliverPolicy, jetstream, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { openStreamManager } from "../messaging/stream.js";
import type { NatsConnection } from "@nats-io/nats-core";
import { rawData } from "../consumer/decode.js";
import { fromNatsHeaders } from "../messaging/nats-headers.js";
import { CE } from "../protocol/headers.js";
import { NotFoundError } from "./inputs.js";

/** One event as stored in the stream. */
export interface StreamEvent {
  seq: number;
  /** `ce-time` (the commit time), or the stream's timestamp when absent. */
  time: string;
  subject: string;
  /** `ce-id`. */
  id: string | null;
  type: string | null;
  commandId: string | null;
  idempotencyKey: string | null;
  data: unknown;
  headers: Record<string, string>;
}

export interface ReadEventsOptions {
  /** NATS connection; the caller closes it. Required. */
  nc: NatsConnection;
  /** Stream to read. Required. */
  stream: string;
  /** Subject filter. Default: the whole stream. */
  subject?: string;
  /** Start at this stream sequence (with `follow`, the next one to come: `lastSeq + 1`). Default: the first. */
  startSeq?: number;
  /** Keep waiting for new events after the end of the stream. Default false. */
  follow?: boolean;
  /** Resolves when reading should stop (with `follow`). Default: never. */
  until?: Promise<unknown>;
  /** Called for each event, in stream order. Required. */
  onEvent(event: StreamEvent): void;
}

function toStreamEvent(m: JsMsg): StreamEvent {
  const headers = fromNatsHeaders(m.headers);
  return {
    seq: m.seq,
    time: headers[CE.time] ?? m.time.toISOString(),
    subject: m.subject,
    id: headers[CE.id] ?? null,
    type: headers[CE.type] ?? null,
    commandId: headers[CE.commandId] ?? null,
    idempotencyKey: headers[CE.idempotencyKey] ?? null,
    data: rawData(m),
    headers,
  };
}

/**
 * Reads a stream's events in order through an ordered consumer (ephemeral: no
 * acks, no state left behind). Without `follow` it returns at the end of the
 * stream as it was when reading started. Resolves with the number of events read.
 */
export async function readEvents(options: ReadEventsOptions): Promise<number> {
  const jsm = await openStreamManager(options.nc);
  try {
    await jsm.streams.info(options.stream);
  } catch (err) {
    if (/stream not found/i.test(String((err as Error).message))) throw new NotFoundError(`stream "${options.stream}" does not exist`);
    throw err;
  }
  const consumer = await jetstream(options.nc).consumers.get(options.stream, {
    ...(options.subject ? { filter_subjects: options.subject } : {}),
    ...(options.startSeq ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.startSeq } : {}),
  });
  if (!options.follow && (await consumer.info()).num_pending === 0) return 0;
  const messages: ConsumerMessages = await consumer.consume();
  void options.until?.then(() => messages.close());
  let count = 0;
  try {
    for await (const m of messages) {
      options.onEvent(toStreamEvent(m));
      count++;
      // `pending` counts what is left after this message for this consumer's filter.
      if (!options.follow && m.info.pending === 0) break;
    }
  } finally {
    await messages.close().catch(() => undefined);
  }
  return count;
}

/** One line per event: seq, time, subject, ce-id, command id, data. */
export function formatEventLine(e: StreamEvent): string {
  return `${e.seq} ${e.time} ${e.subject} ${e.id ?? "-"} ${e.commandId ?? "-"} ${JSON.stringify(e.data)}`;
}

/** The JSON-lines form of an event, headers included. */
export const eventJson = (e: StreamEvent): string => JSON.stringify(e);
