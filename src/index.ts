/**
 * Herald's public API. Workers: defineCommand / defineApp / startWorker.
 * Services sending commands: the client. Downstream services: the consumer.
 */
export { defineApp, type HeraldApp } from "./commands/define-app.js";
export {
  defineCommand,
  reject,
  isRejection,
  type AnyCommand,
  type CommandContext,
  type CommandDefinition,
  type CommandInput,
  type CommandResult,
  type EventDraft,
  type EventSchemas,
  type HandlerOutcome,
  type Rejection,
} from "./commands/define-command.js";
export { createClient, type HeraldClient, type SendReply, type SentCommitted } from "./client/client.js";
export { AWAIT_SLACK_MS, DEFAULT_AWAIT_TIMEOUT_MS, type AwaitOutcome } from "./client/await-consumers.js";
export type { ClientOptions, ClientRetryOptions, RetryInfo, SendOptions } from "./client/options.js";
export { CommandRequestError, CLIENT_ERROR_STATUS, type ClientErrorCode, type CommandRequestErrorOptions } from "./client/request-error.js";
export { createDispatcher, type Dispatcher, type DispatcherOptions, type IncomingCommand } from "./commands/dispatcher.js";
export type { DispatchStats } from "./commands/dispatch-stats.js";
export { configSchema, consumerRetention, loadConfig, parseConfig, ConfigError, type ConsumerRetention, type HeraldConfig } from "./config.js";
export {
  consume,
  deadLetterSubject,
  defaultDeadLetterStream,
  PoisonEventError,
  type ConsumeOptionsBase,
  type ConsumerContext,
  type ConsumerStats,
  type DeadLetter,
  type EventSchemaMap,
  type HeraldConsumer,
  type HeraldEvent,
  type HeraldEventBase,
  type PlainConsumeOptions,
  type TransactionalConsumeOptions,
  type TransactionalContext,
} from "./consumer/index.js";
export { connectDatabase, type Database, type DatabaseOptions, type DialectName } from "./db/connection.js";
export { migrateApp } from "./db/migrate-app.js";
export { migrateToLatest, type MigrateOptions } from "./db/migrator.js";
export type { HeraldTables } from "./db/schema.js";
export { transact, DEFAULT_RETRY_POLICY, type RetryPolicy, type TransactOptions } from "./db/transact.js";
export { AmbiguousCommitError, CommandError, MigrationLockError, RetriesExhaustedError, ERROR_STATUS, type ErrorCode } from "./errors.js";
export { connectNats, type NatsOptions } from "./messaging/connection.js";
export { compareCdcPositions, sortablePosition } from "./cdc/position-order.js";
export type { NatsAuthOptions } from "./messaging/nats-auth.js";
export * from "./security/index.js";
export { ensureStream } from "./messaging/stream.js";
export * from "./protocol/index.js";
export { react, reactionKey, type ReactOptions, type ReactorContext, type ReactorRejection } from "./reactor/index.js";
export { startWorker, type Worker, type WorkerOptions } from "./worker/worker.js";
export { stopGracefully, type GracefulStopOptions, type GracefulStopResult } from "./worker/graceful-stop.js";
export { createLogger, silentLogger, type Logger } from "./telemetry/logger.js";
export { injectTraceContext, extractTraceContext } from "./telemetry/propagation.js";
export { startTelemetry, telemetryPlan, type Telemetry, type TelemetryConfig, type TelemetryOptions, type TelemetryPlan } from "./telemetry/sdk.js";
export { startConsole, type Console, type ConsoleOptions } from "./console/server.js";
export { tokenAuthenticator, OperatorRefusedError, type Operator, type OperatorAuthenticator } from "./console/operator-auth.js";
export { oidcAuthenticator, type OidcAuthenticatorOptions } from "./console/oidc-auth.js";
export * from "./identity/index.js";
export { fetchNatsCredentials, IdentityLoginError, startOidcLogin, type OidcLogin, type OidcLoginOptions } from "./messaging/oidc-login.js";
