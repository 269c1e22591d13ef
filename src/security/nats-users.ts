import { getKey, isMap, isVariable, type NatsConfigMap, type NatsConfigValue } from "./nats-config-parser.js";
import type { SubjectRule } from "./subject-patterns.js";

/** One identity nats-server accepts, with what it may publish and subscribe to. */
export interface NatsUser {
  /** `user`, or the `nkey` public key, or `(token)` / `(anonymous)`. */
  readonly name: string;
  /** Account (`$G` for the global `authorization` block). Subjects are per account. */
  readonly account: string;
  readonly publish: SubjectRule;
  readonly subscribe: SubjectRule;
  readonly allowResponses: boolean;
}

const GLOBAL_ACCOUNT = "$G";

function strings(value: NatsConfigValue | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

/** `publish: "a"`, `publish: [a, b]` or `publish: { allow: [...], deny: [...] }`. */
function subjectRule(value: NatsConfigValue | undefined): SubjectRule {
  if (value === undefined) return {};
  if (isMap(value)) {
    const allow = strings(getKey(value, "allow"));
    const deny = strings(getKey(value, "deny"));
    return { ...(allow ? { allow } : {}), ...(deny ? { deny } : {}) };
  }
  return { allow: strings(value) ?? [] };
}

function permissionsOf(value: NatsConfigValue | undefined): Omit<NatsUser, "name" | "account"> {
  const map = isMap(value) ? value : {};
  const responses = getKey(map, "allow_responses", "responses");
  return {
    publish: subjectRule(getKey(map, "publish", "pub")),
    subscribe: subjectRule(getKey(map, "subscribe", "sub")),
    allowResponses: responses === true || isMap(responses),
  };
}

const text = (v: NatsConfigValue | undefined): string | undefined => (typeof v === "string" ? v : isVariable(v) ? `$${v.variable}` : undefined);

function usersOf(block: NatsConfigMap, account: string): NatsUser[] {
  // Each block's own `default_permissions` covers its users that name none.
  const defaults = getKey(block, "default_permissions");
  const list = getKey(block, "users");
  const entries = Array.isArray(list) ? list.filter(isMap) : [];
  const users = entries.map((entry) => ({
    name: text(getKey(entry, "user", "username")) ?? text(getKey(entry, "nkey")) ?? "(unnamed)",
    account,
    ...permissionsOf(getKey(entry, "permissions") ?? defaults),
  }));
  // The single-user forms: `authorization { user: a, password: b }` or `{ token: t }`.
  const single = text(getKey(block, "user", "username")) ?? (getKey(block, "token") !== undefined ? "(token)" : undefined);
  if (single) users.push({ name: single, account, ...permissionsOf(getKey(block, "permissions") ?? defaults) });
  return users;
}

/**
 * Every user of the top-level `authorization` block and of each account in
 * `accounts`. A server with neither accepts anyone with every permission,
 * which is returned as one `(anonymous)` user.
 */
export function natsUsersFromConfig(config: NatsConfigMap): NatsUser[] {
  const authorization = getKey(config, "authorization");
  const accounts = getKey(config, "accounts");
  const users: NatsUser[] = [];
  if (isMap(authorization)) users.push(...usersOf(authorization, GLOBAL_ACCOUNT));
  if (isMap(accounts)) {
    for (const [name, account] of Object.entries(accounts)) {
      if (isMap(account)) users.push(...usersOf(account, name));
    }
  }
  const hasOperator = getKey(config, "operator", "operators") !== undefined;
  if (users.length === 0 && !hasOperator && getKey(config, "no_auth_user") === undefined && !isMap(authorization)) {
    users.push({ name: "(anonymous)", account: GLOBAL_ACCOUNT, publish: {}, subscribe: {}, allowResponses: false });
  }
  return users;
}
