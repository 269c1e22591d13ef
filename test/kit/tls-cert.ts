import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A throwaway self-signed server certificate for 127.0.0.1 and localhost (its own CA), as PEM text. */
export interface SelfSignedCert {
  cert: string;
  key: string;
}

/** Makes the certificate with the openssl CLI in a temporary directory, which is removed again. */
export async function makeSelfSignedCert(): Promise<SelfSignedCert> {
  const dir = await mkdtemp(join(tmpdir(), "herald-tls-"));
  try {
    const cert = join(dir, "server.crt");
    const key = join(dir, "server.key");
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "extendedKeyUsage=serverAuth",
    ]);
    return { cert: await readFile(cert, "utf8"), key: await readFile(key, "utf8") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
