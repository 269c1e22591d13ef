import { execFile, spawn } from "node:child_process";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { startTcpProxy } from "../test/kit/tcp-proxy.js";
import { trackChild } from "./cleanup.js";
import { BUILD_DIR, ROOT } from "./settings.js";

const run = promisify(execFile);
const SOURCE = join(ROOT, "bench", "proxy", "delay-proxy.c");
const BINARY = join(BUILD_DIR, "delay-proxy");

/** A proxy in front of the database that delays each direction by a fixed one-way latency. */
export interface DelayProxy {
  readonly port: number;
  /** Which implementation runs: the native one, or the test kit's (coarse: timers have 1 ms steps). */
  readonly kind: "native" | "node";
  close(): Promise<void>;
}

/** Builds the native proxy when its source is newer; false without a C compiler. */
async function buildNative(): Promise<boolean> {
  const built = await stat(BINARY).then((s) => s.mtimeMs, () => 0);
  if (built > (await stat(SOURCE)).mtimeMs) return true;
  await mkdir(BUILD_DIR, { recursive: true });
  try {
    await run(process.env.CC ?? "cc", ["-O2", "-o", BINARY, SOURCE]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a delaying proxy to 127.0.0.1:`targetPort`. The native one (one epoll
 * thread, a nanosecond timer, one FIFO) costs next to nothing, so 0 ms through
 * it measures like a direct connection; the bench checks that. Without a C
 * compiler it falls back to the test kit's proxy and says so.
 */
export async function startDelayProxy(targetPort: number, latencyMs: number): Promise<DelayProxy> {
  if (await buildNative()) {
    const child = spawn(BINARY, [String(targetPort), String(Math.round(latencyMs * 1000))], { stdio: ["pipe", "pipe", "inherit"] });
    trackChild(child);
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const m = /port (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once("exit", (code) => reject(new Error(`delay proxy exited (${code})`)));
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    return {
      port,
      kind: "native",
      async close() {
        // Closing its stdin ends it; SIGTERM if it does not go.
        child.stdin.end();
        const timer = setTimeout(() => child.kill("SIGTERM"), 2000);
        await exited;
        clearTimeout(timer);
      },
    };
  }
  const proxy = await startTcpProxy({ host: "127.0.0.1", port: targetPort });
  proxy.setDelay(latencyMs);
  return { port: proxy.port, kind: "node", close: () => proxy.close() };
}
