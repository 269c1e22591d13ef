/** One event as the outbox stores it and the publisher sends it. */
export interface OutboxEvent {
  /** Event id: `ce-id` and `Nats-Msg-Id`. */
  id: string;
  commandId: string;
  domain: string;
  subject: string;
  /** Event name, the last subject segment. */
  type: string;
  /** Order within its command. */
  position: number;
  data: unknown;
  headers: Record<string, string>;
}
