import { NoRespondersError, RequestError, TimeoutError, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";

/** What came back for one request, as the client saw it. */
export interface Outcome {
  /** `committed`, `duplicate`, `rejected:<code>`, `error:<code>`, `no_responders`, `timeout` or `client_error`. */
  label: string;
  ms: number;
  body?: Record<string, any>;
  /** `Nats-Service-Error-Code` and `Nats-Service-Error` of the reply. */
  statusHeader?: string | undefined;
  errorHeader?: string | undefined;
  detail?: string;
}

/**
 * A pre-encoded header block passed where the client expects MsgHdrs: the
 * client only calls encode(), so the bytes go on the wire as they are, which
 * its own header builder would refuse (duplicates, invalid UTF-8, odd names).
 */
function rawHeaders(block: Uint8Array): MsgHdrs {
  return { encode: () => block } as unknown as MsgHdrs;
}

export function labelOf(body: Record<string, any>): string {
  if (body.status === "committed") return body.duplicate ? "duplicate" : "committed";
  if (body.status === "rejected") return body.duplicate ? `duplicate-rejected:${body.error?.code}` : `rejected:${body.error?.code}`;
  if (body.status === "error") return `error:${body.error?.code}`;
  return `unknown-status:${String(body.status)}`;
}

export async function sendRaw(
  nc: NatsConnection,
  subject: string,
  headers: Uint8Array | undefined,
  body: Uint8Array,
  timeoutMs: number,
): Promise<Outcome> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const msg = await nc.request(subject, body, { timeout: timeoutMs, ...(headers ? { headers: rawHeaders(headers) } : {}) });
    let parsed: Record<string, any>;
    try {
      parsed = msg.json<Record<string, any>>();
    } catch {
      return { label: "unparseable-reply", ms: ms(), detail: msg.string().slice(0, 300) };
    }
    return {
      label: labelOf(parsed),
      ms: ms(),
      body: parsed,
      statusHeader: msg.headers?.get("Nats-Service-Error-Code") || undefined,
      errorHeader: msg.headers?.get("Nats-Service-Error") || undefined,
    };
  } catch (err) {
    if (err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())) return { label: "no_responders", ms: ms() };
    if (err instanceof TimeoutError || (err as Error).name === "TimeoutError") return { label: "timeout", ms: ms() };
    return { label: "client_error", ms: ms(), detail: (err as Error).message };
  }
}
