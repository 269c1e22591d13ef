import { commandSubject } from "../protocol/subjects.js";
import type { AnyCommand } from "./define-command.js";

/** Looks commands up by name within one domain. */
export interface CommandRegistry {
  readonly domain: string;
  get(name: string): AnyCommand | undefined;
  list(): readonly AnyCommand[];
  subjectOf(command: AnyCommand): string;
}

export function createRegistry(domain: string, commands: readonly AnyCommand[]): CommandRegistry {
  const byName = new Map(commands.map((c) => [c.name, c]));
  return {
    domain,
    get: (name) => byName.get(name),
    list: () => commands,
    subjectOf: (command) => commandSubject(domain, command.name),
  };
}
