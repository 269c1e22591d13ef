/** Reply bodies of the wire protocol; every reply is one of these, as JSON. */

export interface EventRef {
  id: string;
  subject: string;
}

export interface CommittedReply<Result = unknown> {
  status: "committed";
  commandId: string;
  idempotencyKey: string;
  /** True when this reply replays an earlier command with the same key. */
  duplicate: boolean;
  result: Result;
  events: EventRef[];
  committedAt: string;
}

export interface RejectedReply {
  status: "rejected";
  commandId: string;
  idempotencyKey: string;
  duplicate: boolean;
  error: { code: string; message: string };
}

export interface ErrorReply {
  status: "error";
  error: { code: string; message: string; details?: unknown };
}

/** What a command is answered with once stored (committed or rejected). */
export type StoredReply<Result = unknown> = CommittedReply<Result> | RejectedReply;
export type Reply<Result = unknown> = StoredReply<Result> | ErrorReply;

/** Status reported in `Nats-Service-Error-Code` for business rejections. */
export const REJECTED_STATUS = 422;
