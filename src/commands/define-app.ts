import { assertSegment } from "../protocol/subjects.js";
import type { AnyCommand } from "./define-command.js";

/** A domain's commands plus the migrations for its own tables: what `herald start --app` loads. */
export interface HeraldApp {
  /** Domain name: first subject segment and the micro service's name. */
  readonly domain: string;
  readonly commands: readonly AnyCommand[];
  /** Absolute path of the app's `.sql` migrations folder, applied after Herald's own. */
  readonly migrations?: string;
  /** Service description for `$SRV.INFO`. Default: `Herald commands for <domain>`. */
  readonly description?: string;
  /** Service version (semver). Default `1.0.0`. */
  readonly version?: string;
}

/** Declares an app; refuses bad domain names and two commands with one name. */
export function defineApp(app: HeraldApp): HeraldApp {
  assertSegment("domain", app.domain);
  const seen = new Set<string>();
  for (const command of app.commands) {
    if (seen.has(command.name)) throw new TypeError(`command "${command.name}" is defined twice in ${app.domain}`);
    seen.add(command.name);
  }
  if (app.commands.length === 0) throw new TypeError(`app "${app.domain}" has no commands`);
  return Object.freeze({ ...app, commands: Object.freeze([...app.commands]) });
}
