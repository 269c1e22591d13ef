import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { freePort } from "./nats-server.js";
import { waitFor } from "./wait.js";

/** A three-node JetStream cluster on loopback ports, each node with its own store. */
export interface NatsCluster {
  readonly urls: string[];
  /** Stops node `i` (SIGTERM, or SIGKILL when `hard`). */
  stopNode(i: number, options?: { hard?: boolean }): Promise<void>;
  startNode(i: number): Promise<void>;
  dispose(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), "herald-nats-cluster-"));
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(",");
  const nodes: Array<ChildProcess | undefined> = new Array(size).fill(undefined);

  const startNode = async (i: number) => {
    const args = ["-a", "127.0.0.1", "-p", String(clientPorts[i]), "-js", "-sd", join(dir, `n${i}`), "-n", `herald-n${i}`];
    args.push("--cluster_name", "herald-test", "--cluster", `nats://127.0.0.1:${routePorts[i]}`, "--routes", routes);
    const proc = spawn("nats-server", args, { stdio: ["ignore", "ignore", "ignore"] });
    nodes[i] = proc;
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`cluster node ${i} exited`);
        const nc = await connect({ servers: `127.0.0.1:${clientPorts[i]}`, reconnect: false, timeout: 500 });
        await nc.close();
        return true;
      },
      { what: `cluster node ${i}`, timeoutMs: 15_000 },
    );
  };
  const stopNode = async (i: number, { hard = false } = {}) => {
    const proc = nodes[i];
    nodes[i] = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill(hard ? "SIGKILL" : "SIGTERM");
    await exited;
  };

  await Promise.all(clientPorts.map((_, i) => startNode(i)));
  return {
    urls: clientPorts.map((p) => `nats://127.0.0.1:${p}`),
    stopNode,
    startNode,
    async dispose() {
      await Promise.all(nodes.map((_, i) => stopNode(i, { hard: true })));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
