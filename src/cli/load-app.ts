import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { HeraldApp } from "../commands/define-app.js";
import { CliError } from "./cli-error.js";

function isApp(value: unknown): value is HeraldApp {
  const v = value as HeraldApp | undefined;
  return typeof v === "object" && v !== null && typeof v.domain === "string" && Array.isArray(v.commands);
}

/**
 * Loads the app a worker serves: the bank reference domain by default, or a
 * module (path or package name) whose default export or `app` export is a HeraldApp.
 */
export async function loadApp(specifier: string | undefined, cwd: string): Promise<HeraldApp> {
  if (!specifier) return (await import("../../examples/bank/index.js")).bankApp;
  const looksLikePath = specifier.startsWith(".") || isAbsolute(specifier) || existsSync(resolve(cwd, specifier));
  const target = looksLikePath ? pathToFileURL(resolve(cwd, specifier)).href : specifier;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(target)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`cannot load app module "${specifier}"`, 1, { cause: err });
  }
  const app = [mod.default, mod.app].find(isApp);
  if (!app) throw new CliError(`module "${specifier}" exports no Herald app (export default defineApp({...}))`);
  return app;
}
