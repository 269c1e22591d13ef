import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { loadConfig } from "../../src/config.js";
import { waitFor } from "./wait.js";

/** Connects to the shared NATS server the environment names. */
export function connectSharedNats(name = "herald-test"): Promise<NatsConnection> {
  return connect({ servers: loadConfig().NATS_URL.split(","), name });
}

/** A free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A nats-server with JetStream started for one test, on its own port and store directory. */
export interface PrivateNatsServer {
  readonly port: number;
  readonly url: string;
  readonly storeDir: string;
  /** Stops the process (SIGTERM, or SIGKILL when `hard`) and waits for it to exit. */
  stop(options?: { hard?: boolean }): Promise<void>;
  /** Starts it again on the same port and store directory. */
  start(): Promise<void>;
  /** Stops it and removes its store directory. */
  dispose(): Promise<void>;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Resolves once the server sends its INFO greeting: works whatever auth or TLS its config demands. */
function greeting(port: number): Promise<true> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(true);
    };
    const timer = setTimeout(() => done(new Error("no INFO from nats-server")), 500);
    socket.once("data", (chunk: Buffer) => done(chunk.toString().startsWith("INFO ") ? undefined : new Error("not a NATS greeting")));
    socket.once("error", done);
  });
}

/**
 * Starts `nats-server -js` privately; resolves once it accepts connections.
 * `configFile` is passed with `-c` (the flags here still set address, port and store).
 */
export async function startNatsServer(options: { args?: string[]; configFile?: string } = {}): Promise<PrivateNatsServer> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), "herald-nats-"));
  let child: ChildProcess | undefined;

  const start = async () => {
    const config = options.configFile ? ["-c", options.configFile] : [];
    const proc = spawn("nats-server", [...config, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir, ...(options.args ?? [])], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = proc;
    let log = "";
    proc.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    });
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`nats-server exited: ${log}`);
        // A config may demand credentials or TLS the plain probe below lacks.
        if (options.configFile || options.args?.includes("-c")) return greeting(port);
        const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 500 });
        await nc.close();
        return true;
      },
      { what: `nats-server on port ${port}`, timeoutMs: 15_000 },
    );
  };

  const stop = async ({ hard = false } = {}) => {
    const proc = child;
    child = undefined;
    if (!proc) return;
    proc.kill(hard ? "SIGKILL" : "SIGTERM");
    await waitExit(proc);
  };

  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    stop,
    start,
    async dispose() {
      await stop({ hard: true });
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
