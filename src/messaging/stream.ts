import { jetstreamManager, type JetStreamManager, type JetStreamManagerOptions, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/**
 * Opens a JetStream manager without nats.js's up-front account-info request
 * (`$JS.API.INFO`): Herald's roles are not granted it (least privilege), and
 * the first real call (stream or consumer info) fails just as clearly when
 * JetStream is missing. Every manager Herald opens goes through here.
 */
export function openStreamManager(nc: NatsConnection, options: Omit<JetStreamManagerOptions, "checkAPI"> = {}): Promise<JetStreamManager> {
  return jetstreamManager(nc, { ...options, checkAPI: false });
}

export interface StreamOptions {
  name: string;
  subjects: string[];
  /** JetStream's de-duplication window by `Nats-Msg-Id`, in ms. Default 120000 (2 min). */
  duplicateWindowMs?: number;
  /** Replicas in a cluster. Default 1. */
  replicas?: number;
}

/** Returns the stream, creating it when missing. An existing stream is left as its owner configured it. */
export async function ensureStream(jsm: JetStreamManager, options: StreamOptions): Promise<StreamInfo> {
  try {
    return await jsm.streams.info(options.name);
  } catch (err) {
    if ((err as { name?: string }).name !== "StreamNotFoundError" && !/stream not found/i.test(String((err as Error).message))) throw err;
  }
  try {
    return await jsm.streams.add({
      name: options.name,
      subjects: options.subjects,
      duplicate_window: (options.duplicateWindowMs ?? 120_000) * 1_000_000,
      num_replicas: options.replicas ?? 1,
    });
  } catch (err) {
    // Another worker created it at the same moment.
    if (/already in use|exists/i.test(String((err as Error).message))) return jsm.streams.info(options.name);
    throw err;
  }
}
