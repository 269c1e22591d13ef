import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream";

/** The durable consumer `consume()` needs; every field required (consume() fills in the defaults). */
export interface DurableSpec {
  stream: string;
  durable: string;
  filters: readonly string[];
  ackWaitMs: number;
  maxAckPending: number;
  deliverPolicy: "all" | "new";
}

const ms = (n: number): number => n * 1_000_000;

/**
 * Creates the durable pull consumer, or updates the settings an existing one
 * may change. Every instance calls this at start with the same settings.
 */
export async function ensureDurable(jsm: JetStreamManager, spec: DurableSpec): Promise<void> {
  const filter: Partial<ConsumerConfig> =
    spec.filters.length === 1 ? { filter_subject: spec.filters[0]! } : { filter_subjects: [...spec.filters] };
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: spec.deliverPolicy === "new" ? DeliverPolicy.New : DeliverPolicy.All,
    ack_wait: ms(spec.ackWaitMs),
    max_ack_pending: spec.maxAckPending,
    // Unlimited on the server: the helper counts deliveries itself and dead-letters
    // at maxDeliver. A server-side limit would strand an event whose dead-lettering
    // failed (database down) on its last delivery: never redelivered, never recorded.
    max_deliver: -1,
    ...filter,
  };
  try {
    await jsm.consumers.add(spec.stream, config);
  } catch (err) {
    const message = String((err as Error).message);
    if (/stream not found/i.test(message)) {
      throw new Error(`stream "${spec.stream}" does not exist: start a worker of the domain first, or pass the stream's name`, { cause: err });
    }
    if (!/already (exists|in use)/i.test(message)) throw err;
    const { durable_name: _name, deliver_policy: _policy, ...changeable } = config;
    await jsm.consumers.update(spec.stream, spec.durable, changeable);
  }
}
