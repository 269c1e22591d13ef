import { createServer, type Server } from "node:http";

/** A stand-in for an OpenTelemetry collector's OTLP/HTTP (JSON) receiver. */
export interface OtlpReceiver {
  readonly url: string;
  /** Request bodies received per path (`/v1/traces`, `/v1/metrics`), parsed. */
  readonly bodies: Map<string, any[]>;
  /** Every span received: name, kind, ids, attributes as a plain record, and the resource's service.name. */
  spans(): Array<{ name: string; kind: number; traceId: string; spanId: string; parentSpanId: string; attributes: Record<string, unknown>; service: unknown }>;
  /** Names of every metric received. */
  metricNames(): Set<string>;
  close(): Promise<void>;
}

const plain = (attrs: Array<{ key: string; value: Record<string, unknown> }> = []) =>
  Object.fromEntries(attrs.map((a) => [a.key, Object.values(a.value)[0]]));

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies = new Map<string, any[]>();
  const server: Server = createServer((req, res) => {
    let data = "";
    req.on("data", (c: Buffer) => (data += c.toString()));
    req.on("end", () => {
      const list = bodies.get(req.url ?? "") ?? [];
      list.push(JSON.parse(data || "{}"));
      bodies.set(req.url ?? "", list);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    spans() {
      return (bodies.get("/v1/traces") ?? []).flatMap((b) =>
        (b.resourceSpans ?? []).flatMap((rs: any) =>
          (rs.scopeSpans ?? []).flatMap((ss: any) =>
            (ss.spans ?? []).map((s: any) => ({
              name: s.name,
              kind: s.kind,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? "",
              attributes: plain(s.attributes),
              service: plain(rs.resource?.attributes)["service.name"],
            })),
          ),
        ),
      );
    },
    metricNames() {
      return new Set(
        (bodies.get("/v1/metrics") ?? []).flatMap((b) =>
          (b.resourceMetrics ?? []).flatMap((rm: any) => (rm.scopeMetrics ?? []).flatMap((sm: any) => (sm.metrics ?? []).map((m: any) => m.name))),
        ),
      );
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
