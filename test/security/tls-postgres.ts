import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "../kit/nats-server.js";
import { waitFor } from "../kit/wait.js";
import type { TestCertificates } from "./tls-certs.js";

const run = promisify(execFile);

/**
 * A PostgreSQL of the test's own that accepts only TLS connections with a
 * client certificate signed by the test CA, and SCRAM passwords.
 */
export interface TlsPostgres {
  readonly port: number;
  /** A `verify-full` URL for `user` with the test CA and client certificate (no password in it). */
  url(user: string, options?: { clientCert?: boolean; rootCert?: boolean; sslmode?: string }): string;
  dispose(): Promise<void>;
}

const isRoot = () => userInfo().uid === 0;
/** PostgreSQL refuses to run as root; then the `postgres` OS user runs it. */
const asPostgres = (cmd: string, args: string[]): [string, string[]] => (isRoot() ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]);

async function bin(name: string): Promise<string> {
  const { stdout } = await run("pg_config", ["--bindir"]);
  return join(stdout.trim(), name);
}

/**
 * Fails with one clear message when initdb and postgres cannot be run here:
 * the README lists them as required, and a suite that skipped the TLS tests
 * would go green with the TLS promises untested.
 */
export async function assertCanRunPostgres(): Promise<void> {
  try {
    await run(await bin("initdb"), ["--version"]);
  } catch (err) {
    throw new Error(
      `the database TLS tests need PostgreSQL's server binaries (initdb and postgres, found through pg_config --bindir) on the PATH: ${(err as Error).message}`,
    );
  }
  if (isRoot()) {
    await run("id", ["-u", "postgres"]).catch(() => {
      throw new Error("the database TLS tests run as root need an OS user named postgres (PostgreSQL refuses to run as root)");
    });
  }
}

export async function startTlsPostgres(certs: TestCertificates, superPassword: string): Promise<TlsPostgres> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "herald-pgtls-"));
  const data = join(dir, "data");
  const files = { cert: join(dir, "server.crt"), key: join(dir, "server.key"), ca: join(dir, "ca.crt"), pw: join(dir, "pw") };
  await copyFile(certs.serverCert, files.cert);
  await copyFile(certs.serverKey, files.key);
  await copyFile(certs.ca, files.ca);
  await writeFile(files.pw, superPassword);
  await chmod(files.key, 0o600);
  if (isRoot()) {
    const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
    const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
    for (const path of [dir, ...Object.values(files)]) await chown(path, uid, gid);
  }
  const [initCmd, initArgs] = asPostgres(await bin("initdb"), ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${files.pw}`, "--no-sync", "-E", "UTF8"]);
  await run(initCmd, initArgs);
  // TLS with a client certificate, then a SCRAM password; nothing else gets in.
  await writeFile(join(data, "pg_hba.conf"), "hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca\nhost all all 0.0.0.0/0 reject\n");

  const [cmd, args] = asPostgres(await bin("postgres"), [
    "-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
    "-c", "ssl=on", "-c", `ssl_cert_file=${files.cert}`, "-c", `ssl_key_file=${files.key}`, "-c", `ssl_ca_file=${files.ca}`,
  ]);
  const child: ChildProcess = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));

  const url = (user: string, options: { clientCert?: boolean; rootCert?: boolean; sslmode?: string } = {}) => {
    const u = new URL(`postgresql://127.0.0.1:${port}/postgres`);
    u.username = user;
    u.searchParams.set("sslmode", options.sslmode ?? "verify-full");
    if (options.rootCert !== false) u.searchParams.set("sslrootcert", certs.ca);
    if (options.clientCert !== false) {
      u.searchParams.set("sslcert", certs.clientCert);
      u.searchParams.set("sslkey", certs.clientKey);
    }
    return u.toString();
  };
  const dispose = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      // runuser does not pass signals on, so ask pg_ctl (immediate mode: nothing to keep).
      const [stopCmd, stopArgs] = asPostgres(await bin("pg_ctl"), ["stop", "-D", data, "-m", "immediate", "-w"]);
      await run(stopCmd, stopArgs).catch(() => child.kill("SIGKILL"));
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`postgres exited: ${log}`);
        const probe = new URL(url("postgres"));
        probe.password = superPassword;
        const client = new pg.Client({ connectionString: probe.toString(), connectionTimeoutMillis: 1000 });
        await client.connect();
        await client.end();
        return true;
      },
      { what: `TLS PostgreSQL on ${port}`, timeoutMs: 30_000 },
    );
  } catch (err) {
    await dispose();
    throw err;
  }
  return { port, url, dispose };
}
