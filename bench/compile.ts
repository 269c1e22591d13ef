import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BUILD_DIR, ROOT } from "./settings.js";

/** Folders of stand-alone programs the bench runs as targets. */
const TARGET_DIRS = ["bench/shared", "bench/glue", "bench/ceiling", "bench/instrument"];

/**
 * Transpiles the glue and the ceiling responder to plain JavaScript, so they run
 * under bare `node` exactly like Herald's dist/: a TypeScript loader in the
 * process would add memory and start-up time that Herald does not pay.
 * Up-to-date outputs are kept: loading the compiler alone takes seconds.
 */
export async function compileTargets(): Promise<void> {
  let ts: typeof import("typescript") | undefined;
  for (const dir of TARGET_DIRS) {
    const out = join(BUILD_DIR, dir.replace(/^bench\//, ""));
    await mkdir(out, { recursive: true });
    for (const file of await readdir(join(ROOT, dir))) {
      if (!file.endsWith(".ts")) continue;
      const target = join(out, file.replace(/\.ts$/, ".js"));
      const sourceTime = (await stat(join(ROOT, dir, file))).mtimeMs;
      if (sourceTime < (await stat(target).then((s) => s.mtimeMs, () => 0))) continue;
      ts ??= (await import("typescript")).default;
      const source = await readFile(join(ROOT, dir, file), "utf8");
      const { outputText, diagnostics } = ts.transpileModule(source, {
        fileName: file,
        reportDiagnostics: true,
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      });
      if (diagnostics?.length) throw new Error(`${dir}/${file}: ${ts.flattenDiagnosticMessageText(diagnostics[0]!.messageText, "\n")}`);
      await writeFile(target, outputText);
    }
  }
}

/** Path of a transpiled target, e.g. `glue/main.js`. */
export const targetScript = (relative: string): string => join(BUILD_DIR, relative);
