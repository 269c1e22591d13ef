import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./nats-server.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);

/** A PostgreSQL instance of a test's own (initdb into a temp dir, own port), for outages. */
export interface PrivatePostgres {
  readonly port: number;
  /** URL of its `postgres` database as the `postgres` superuser. */
  readonly url: string;
  urlFor(database: string): string;
  /** Fast shutdown (`hard`: immediate, like a crash). */
  stop(options?: { hard?: boolean }): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}


async function pgBin(name: string): Promise<string> {
  try {
    const { stdout } = await run("pg_config", ["--bindir"]);
    return join(stdout.trim(), name);
  } catch {
    return name;
  }
}

export interface PostgresServerOptions {
  /** Extra server settings, passed as `-c name=value` (e.g. `{ wal_level: "logical" }`). Default none. */
  settings?: Readonly<Record<string, string | number>>;
  /** Password of the `postgres` superuser; TCP logins then need passwords (scram-sha-256). Default: none, trust auth. */
  password?: string;
}

export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "herald-pg-"));
  const data = join(dir, "data");
  // PostgreSQL refuses to run as root, so as root the server runs as the `postgres` OS user.
  let ids: { uid: number; gid: number } | undefined;
  if (userInfo().uid === 0) {
    const { stdout: uid } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    ids = { uid: Number(uid.trim()), gid: Number(gid.trim()) };
    await chown(dir, ids.uid, ids.gid);
  }
  const initdb = await pgBin("initdb");
  const postgres = await pgBin("postgres");
  const auth = ["--auth=trust"];
  if (options.password) {
    const pwfile = join(dir, "pwfile");
    await writeFile(pwfile, `${options.password}\n`, { mode: 0o600 });
    if (ids) await chown(pwfile, ids.uid, ids.gid);
    auth.splice(0, 1, "--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${pwfile}`);
  }
  await run(initdb, ["-D", data, "-U", "postgres", ...auth, "--no-sync", "-E", "UTF8"], { ...ids, cwd: dir });
  let child: ChildProcess | undefined;
  const user = options.password ? `postgres:${encodeURIComponent(options.password)}` : "postgres";
  const url = `postgresql://${user}@127.0.0.1:${port}/postgres`;

  const start = async () => {
    const args = ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1"];
    args.push("-c", "fsync=off", "-c", "max_connections=200", "-c", "default_transaction_isolation=serializable");
    for (const [name, value] of Object.entries(options.settings ?? {})) args.push("-c", `${name}=${value}`);
    const proc = spawn(postgres, args, { stdio: ["ignore", "ignore", "pipe"], cwd: dir, ...ids });
    child = proc;
    let log = "";
    proc.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`postgres exited: ${log}`);
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 500 });
        await client.connect();
        await client.end();
        return true;
      },
      { what: `private PostgreSQL on ${port}`, timeoutMs: 30_000 },
    );
  };

  const stop = async ({ hard = false } = {}) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    // SIGINT is PostgreSQL's fast shutdown; SIGQUIT its immediate one (crash-like, recovery on start).
    proc.kill(hard ? "SIGQUIT" : "SIGINT");
    await exited;
  };

  await start();
  return {
    port,
    url,
    urlFor: (database) => `postgresql://${user}@127.0.0.1:${port}/${database}`,
    stop,
    start,
    async dispose() {
      await stop({ hard: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
