import { readFile } from "node:fs/promises";
import pg from "pg";

/**
 * A pg Client class that takes its password from a file, read again for every
 * new connection, so a rotated secret takes effect without a restart.
 *
 * pg's own `password` option accepts a function, but a connection string
 * overrides it (it parses to an empty password), hence the subclass.
 */
export function passwordFileClient(path: string): typeof pg.Client {
  const readPassword = async (): Promise<string> => {
    try {
      // One trailing newline is what editors and `echo` leave; it is not part of the secret.
      return (await readFile(path, "utf8")).replace(/\r?\n$/, "");
    } catch (err) {
      throw new Error(`cannot read the database password file ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
  };
  return class PasswordFileClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // pg calls a function-valued password on each connect.
      (this as unknown as { password: () => Promise<string> }).password = readPassword;
    }
  };
}
