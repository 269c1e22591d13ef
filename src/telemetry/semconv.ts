/**
 * OpenTelemetry semantic convention names Herald uses, as plain strings. The
 * messaging and a few database names are still "incubating" upstream; copying
 * them keeps the library free of the incubating entry point (which may change
 * without a major version) and of any dependency beyond `@opentelemetry/api`.
 */

// Messaging (incubating).
export const ATTR_MESSAGING_SYSTEM = "messaging.system";
export const ATTR_MESSAGING_DESTINATION_NAME = "messaging.destination.name";
export const ATTR_MESSAGING_OPERATION_TYPE = "messaging.operation.type";
export const ATTR_MESSAGING_OPERATION_NAME = "messaging.operation.name";
export const ATTR_MESSAGING_MESSAGE_ID = "messaging.message.id";
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = "messaging.consumer.group.name";
export const MESSAGING_SYSTEM_NATS = "nats";
export const MESSAGING_OPERATION_TYPE_SEND = "send";
export const MESSAGING_OPERATION_TYPE_PROCESS = "process";

// Database (stable since semantic conventions 1.33, not in every API release).
export const ATTR_DB_SYSTEM_NAME = "db.system.name";
export const ATTR_DB_OPERATION_NAME = "db.operation.name";
/** For PostgreSQL and CockroachDB: the SQLSTATE. */
export const ATTR_DB_RESPONSE_STATUS_CODE = "db.response.status_code";

// General.
export const ATTR_ERROR_TYPE = "error.type";

// Herald's own attributes (the `herald.` namespace).
export const ATTR_HERALD_DOMAIN = "herald.domain";
export const ATTR_HERALD_COMMAND = "herald.command";
export const ATTR_HERALD_COMMAND_ID = "herald.command.id";
export const ATTR_HERALD_IDEMPOTENCY_KEY = "herald.idempotency_key";
/** `committed`, `duplicate`, `rejected` or `error`. */
export const ATTR_HERALD_OUTCOME = "herald.outcome";
export const ATTR_HERALD_DUPLICATE = "herald.duplicate";
/** The handler's rejection code of a `rejected` outcome. */
export const ATTR_HERALD_REJECTION_CODE = "herald.rejection.code";
/** Transaction attempt number, 1 for the first. */
export const ATTR_HERALD_ATTEMPT = "herald.attempt";
export const ATTR_HERALD_RETRY_DELAY_MS = "herald.retry.delay_ms";
/** `true` when the outbox relay (not the committing worker) published the event. */
export const ATTR_HERALD_RELAYED = "herald.relayed";
/** JetStream stream sequence from the PubAck. */
export const ATTR_HERALD_STREAM_SEQUENCE = "herald.stream.sequence";
/** JetStream already held the message (dropped as a duplicate by `Nats-Msg-Id`). */
export const ATTR_HERALD_STREAM_DUPLICATE = "herald.stream.duplicate";

/** Instrument names of the `herald` meter (documented in docs/observability.md). */
export const METRIC = {
  commands: "herald.commands",
  commandDuration: "herald.command.duration",
  transactionAttempts: "herald.transaction.attempts",
  transactionRetries: "herald.transaction.retries",
  outboxPending: "herald.outbox.pending",
  outboxOldestAge: "herald.outbox.oldest_age",
  publishLag: "herald.publish.lag",
  publishFailures: "herald.publish.failures",
  publishDeferred: "herald.publish.deferred",
  consumerLag: "herald.consumer.lag",
  consumerPending: "herald.consumer.pending",
  consumerDeadLetters: "herald.consumer.dead_letters",
} as const;
