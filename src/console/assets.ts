import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Hono } from "hono";
import { CONSOLE_JS } from "./client-script.js";
import { CONSOLE_CSS } from "./styles.js";

const require = createRequire(import.meta.url);

/** Files served from installed packages: htmx and uPlot ship built, so the console needs no bundler. */
const PACKAGED: Record<string, { module: string; type: string }> = {
  "htmx.min.js": { module: "htmx.org/dist/htmx.min.js", type: "text/javascript; charset=utf-8" },
  "uPlot.iife.min.js": { module: "uplot/dist/uPlot.iife.min.js", type: "text/javascript; charset=utf-8" },
  "uPlot.min.css": { module: "uplot/dist/uPlot.min.css", type: "text/css; charset=utf-8" },
};

/** Mounts /assets/*: the console's own script and stylesheet, and the packaged libraries (read once, cached). */
export function mountAssets(app: Hono<any>): void {
  const cache = new Map<string, Promise<string>>();
  const own: Record<string, { body: string; type: string }> = {
    "console.js": { body: CONSOLE_JS, type: "text/javascript; charset=utf-8" },
    "console.css": { body: CONSOLE_CSS, type: "text/css; charset=utf-8" },
  };
  app.get("/assets/:file", async (c) => {
    const file = c.req.param("file");
    const headers = { "cache-control": "public, max-age=3600" };
    const mine = own[file];
    if (mine) return c.body(mine.body, 200, { ...headers, "content-type": mine.type });
    const packaged = PACKAGED[file];
    if (!packaged) return c.text("not found", 404);
    let body = cache.get(file);
    if (!body) cache.set(file, (body = readFile(require.resolve(packaged.module), "utf8")));
    return c.body(await body, 200, { ...headers, "content-type": packaged.type });
  });
}
