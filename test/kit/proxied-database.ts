import { connectDatabase, type Database, type DatabaseOptions } from "../../src/db/connection.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

/** A pool that reaches the database through a TCP proxy the test can stall or cut. */
export interface ProxiedDatabase {
  readonly proxy: TcpProxy;
  readonly database: Database;
  /** Resumes the proxy, closes the pool, then the proxy. */
  close(): Promise<void>;
}

/** Connects to `url` through a fresh loopback proxy; `options` are the pool's, less its URL. */
export async function connectThroughProxy(url: string, options: Omit<DatabaseOptions, "url"> = {}): Promise<ProxiedDatabase> {
  const target = new URL(url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  target.port = String(proxy.port);
  const database = await connectDatabase({ ...options, url: target.toString() }).catch(async (err) => {
    await proxy.close();
    throw err;
  });
  return {
    proxy,
    database,
    async close() {
      proxy.resume();
      await database.destroy();
      await proxy.close();
    },
  };
}
