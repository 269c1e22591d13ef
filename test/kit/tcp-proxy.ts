import { createServer, connect, type Socket } from "node:net";

/** A loopback TCP proxy a test can slow down, stall or cut: a misbehaving network in a box. */
export interface TcpProxy {
  readonly port: number;
  /** Delay every chunk in both directions by `ms` (0: none). */
  setDelay(ms: number): void;
  /** Hold every byte until `resume()`. */
  stall(): void;
  resume(): void;
  /** Destroy every open connection (new ones are still accepted). */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let delayMs = 0;
  let stalled = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();

  const forward = (from: Socket, to: Socket) => {
    from.on("data", (chunk: Buffer) => {
      const send = () => {
        if (!to.destroyed) to.write(chunk);
      };
      const deliver = () => (delayMs > 0 ? setTimeout(send, delayMs) : send());
      // Keep order: while stalled everything queues; delays apply per chunk in arrival order.
      if (stalled) held.push(deliver);
      else deliver();
    });
    from.on("close", () => to.destroy());
    from.on("error", () => to.destroy());
  };

  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    client.on("close", () => sockets.delete(client));
    upstream.on("close", () => sockets.delete(upstream));
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    port,
    setDelay: (ms) => {
      delayMs = ms;
    },
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
      for (const deliver of held.splice(0)) deliver();
    },
    cutAll: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
