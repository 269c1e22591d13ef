import { request } from "node:https";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createCdcBridge, type CdcBridge } from "../../src/cdc/bridge.js";
import { cdcWildcard } from "../../src/cdc/change-message.js";
import type { ChangeSource } from "../../src/cdc/change-source.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { uniqueDomain } from "../kit/names.js";
import { readStream } from "../kit/stream.js";
import { seen, type SeenChange } from "./conformance.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";

/** A fresh domain with its CDC stream and a started bridge over `source`. */
export async function bridgeInto(nc: NatsConnection, source: ChangeSource): Promise<{
  bridge: CdcBridge;
  read: () => Promise<SeenChange[]>;
  dispose: () => Promise<void>;
}> {
  const domain = uniqueDomain("crdb");
  const stream = `${domain.toUpperCase()}_CDC`;
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, { name: stream, subjects: [cdcWildcard(domain)] });
  const bridge = createCdcBridge({ publisher: createStreamPublisher(nc), source, domain });
  await bridge.start();
  return {
    bridge,
    read: async () => seen(await readStream(nc, stream)),
    async dispose() {
      await bridge.stop().catch(() => undefined);
      await jsm.streams.delete(stream).catch(() => undefined);
    },
  };
}

export interface Reply {
  status: number;
  body: string;
}

/** One HTTPS request to the webhook, trusting `ca`. A body given as chunks is sent without Content-Length. */
export function send(
  url: string,
  ca: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | string[] } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunked = Array.isArray(options.body);
    const body = options.body ?? "";
    const headers: Record<string, string | number> = { "content-type": "application/json", ...options.headers };
    if (!chunked) headers["content-length"] = Buffer.byteLength(body as string);
    const req = request(url, { method: options.method ?? "POST", ca, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (chunked) for (const c of body as string[]) req.write(c);
    else req.write(body);
    req.end();
  });
}
