/** Least-privilege helpers: NATS permissions, database grants, the audit between them, redaction. */
export { auditSecurity, type AuditDomain, type AuditInput, type Finding, type FindingKind } from "./audit.js";
export { renderFindings } from "./audit-report.js";
export { readDatabaseGrants, type DatabaseGrants } from "./db-grants.js";
export { grantsSql, WORKER_PRIVILEGES, type GrantsOptions, type TablePrivilege } from "./grants.js";
export { consoleGrantsSql, consoleNatsRole, consoleUser, type ConsoleGrantsOptions } from "./console-role.js";
export { clientUser, consumerUser, domainOfWorker, workerUser, InvalidNameError } from "./naming.js";
export { natsAuthorizationJson, passwordVariable, renderNatsAuthorization } from "./nats-config-render.js";
export { NatsConfigSyntaxError, parseNatsConfig, type NatsConfigMap, type NatsConfigValue } from "./nats-config-parser.js";
export { domainPermissions, type DomainPermissions, type DomainPermissionsOptions, type NatsRole } from "./nats-permissions.js";
export { natsUsersFromConfig, type NatsUser } from "./nats-users.js";
export { REDACTED, redactConfig, redactText, redactUrl } from "./redact.js";
export { tablesCreatedBy, tablesInMigrations } from "./sql-tables.js";
