import { domainExists } from "../operations/domains.js";
import { parseDomain } from "../operations/inputs.js";
import type { ConsoleDeps } from "./deps.js";
import { HttpError, type ConsoleContext } from "./http.js";

/** The domain of `/d/:domain/...`: malformed is 400, one the database holds no command of is 404. */
export async function routeDomain(c: ConsoleContext, deps: ConsoleDeps): Promise<{ domain: string; base: string }> {
  const domain = parseDomain(c.req.param("domain") ?? "");
  if (!(await domainExists(deps.db, domain))) throw new HttpError(404, `the database holds no command of domain ${domain}`);
  return { domain, base: `/d/${domain}` };
}
