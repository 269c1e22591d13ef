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
export { createDispatcher, type Dispatcher, type DispatcherOptions, type IncomingCommand } from "./commands/dispatcher.js";
export type { DispatchStats } from "./commands/dispatch-stats.js";
export { configSchema, loadConfig, parseConfig, ConfigError, type HeraldConfig } from "./config.js";
export { connectDatabase, type Database, type DatabaseOptions, type DialectName } from "./db/connection.js";
export { migrateApp } from "./db/migrate-app.js";
export { migrateToLatest, type MigrateOptions } from "./db/migrator.js";
export type { HeraldTables } from "./db/schema.js";
export { transact, DEFAULT_RETRY_POLICY, type RetryPolicy, type TransactOptions } from "./db/transact.js";
export { AmbiguousCommitError, CommandError, MigrationLockError, RetriesExhaustedError, ERROR_STATUS, type ErrorCode } from "./errors.js";
export { connectNats, type NatsOptions } from "./messaging/connection.js";
export { ensureStream } from "./messaging/stream.js";
export * from "./protocol/index.js";
export { startWorker, type Worker, type WorkerOptions } from "./worker/worker.js";
export { createLogger, silentLogger, type Logger } from "./telemetry/logger.js";
export { injectTraceContext, extractTraceContext } from "./telemetry/propagation.js";
