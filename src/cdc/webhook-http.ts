/** Small HTTP pieces of the changefeed webhook endpoint: the auth check, a bounded body read, replies. */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/**
 * Whether the request carries the configured `Authorization` value, the one the
 * changefeed was created with (`webhook_auth_header`, sent as the Authorization
 * header: https://www.cockroachlabs.com/docs/v24.3/create-changefeed#webhook-auth-header).
 * Compared in constant time over digests, so neither length nor content leaks.
 */
export function authorized(req: IncomingMessage, expected: string): boolean {
  const got = req.headers.authorization;
  if (typeof got !== "string") return false;
  return timingSafeEqual(digest(got), digest(expected));
}

/** The body exceeded the limit: a 413. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly limit: number) {
    super(`the body is larger than ${limit} bytes`);
  }
}

/**
 * Reads the body as UTF-8, refusing (BodyTooLargeError) one longer than `limit`
 * bytes, by its Content-Length before reading or by counting as it streams.
 * Past the limit nothing more is buffered.
 */
export function readLimitedBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!over) resolve(Buffer.concat(chunks).toString("utf8"));
    });
    req.on("error", reject);
  });
}

/** Sends a short JSON reply once; later calls are ignored (the request may already be answered). */
export function reply(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}
