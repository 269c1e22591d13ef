import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Operator } from "./operator-auth.js";

/** A signed-in operator's session: who, until when, and the CSRF token its forms carry. */
export interface Session {
  readonly id: string;
  readonly operator: Operator;
  readonly csrf: string;
  readonly expiresAt: number;
}

/** In-memory operator sessions: an operator signs in again after a restart, `ttlMs` or the operator's own `expiresAt`. */
export interface Sessions {
  create(operator: Operator): Session;
  get(id: string | undefined): Session | undefined;
  end(id: string | undefined): void;
  /** True when `token` is the session's CSRF token (constant time). */
  checkCsrf(session: Session, token: string | undefined): boolean;
}

/** Sessions kept at most; the oldest goes first. */
const MAX_SESSIONS = 1000;

export function createSessions(ttlMs = 8 * 3_600_000): Sessions {
  const sessions = new Map<string, Session>();
  return {
    create(operator) {
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      const session: Session = { id: randomBytes(32).toString("base64url"), operator, csrf: randomBytes(32).toString("base64url"), expiresAt: Math.min(Date.now() + ttlMs, operator.expiresAt ?? Infinity) };
      sessions.set(session.id, session);
      return session;
    },
    get(id) {
      const session = id ? sessions.get(id) : undefined;
      if (!session) return undefined;
      if (session.expiresAt > Date.now()) return session;
      sessions.delete(session.id);
      return undefined;
    },
    end(id) {
      if (id) sessions.delete(id);
    },
    checkCsrf(session, token) {
      if (!token) return false;
      const a = Buffer.from(session.csrf);
      const b = Buffer.from(token);
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}
