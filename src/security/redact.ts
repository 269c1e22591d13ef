/**
 * Keeps secrets out of logs, error messages and command output. Anything that
 * prints a URL, a configuration or an error's text passes it through here.
 */

/** What a hidden secret is replaced with. */
export const REDACTED = "***";

/** Query parameters that carry secrets in database and NATS URLs. */
const SECRET_PARAMS = /^(password|pass|pwd|sslpassword|token|auth_token|secret|sslkey_password)$/i;
/** Configuration keys whose values are secrets (paths to secret files are not). */
const SECRET_KEYS = /(PASSWORD|PASSWD|TOKEN|SECRET|SEED|PRIVATE_KEY|CREDENTIALS)(?!_FILE)$/i;

/** A URL with its password (and secret query parameters) replaced; non-URLs come back unchanged. */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return redactText(value);
  }
  if (!url.host && !url.username) return value;
  let changed = false;
  if (url.password) {
    url.password = REDACTED;
    changed = true;
  } else if (url.username && !url.password && /^(nats|tls|ws|wss):$/.test(url.protocol)) {
    // nats://TOKEN@host: a lone user part is the token.
    url.username = REDACTED;
    changed = true;
  }
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_PARAMS.test(key)) {
      url.searchParams.set(key, REDACTED);
      changed = true;
    }
  }
  return changed ? url.toString().replaceAll(encodeURIComponent(REDACTED), REDACTED) : value;
}

/**
 * Free text (an error message) with secrets inside URLs hidden: the password of
 * `scheme://user:password@host`, a `nats://token@host` token, and
 * `password=...`-style parameters.
 */
export function redactText(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`)
    .replace(/\b((?:nats|tls|wss?):\/\/)([^\s/@:]+)@/gi, (_m, scheme: string) => `${scheme}${REDACTED}@`)
    .replace(/\b(password|pass|pwd|sslpassword|token|auth_token|secret)=([^\s&;'"]+)/gi, (_m, key: string) => `${key}=${REDACTED}`);
}

/** A configuration record with secret values hidden and URLs stripped of passwords. */
export function redactConfig<T extends object>(config: T): Record<keyof T, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== "string") out[key] = value;
    else if (SECRET_KEYS.test(key)) out[key] = value ? REDACTED : value;
    else out[key] = value.includes("://") ? value.split(",").map((part) => redactUrl(part.trim())).join(",") : value;
  }
  return out as Record<keyof T, unknown>;
}
