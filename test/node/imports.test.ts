// The layout's rules, checked on the sources: no import cycle (type-only imports included), and only
// the three modules that are Workers runtime classes import `cloudflare:workers`; everything else
// is pure and runs (and is tested, benchmarked) without a runtime.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sources(path));
    else if (path.endsWith(".ts") && !path.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

const files = [...sources("src"), ...sources("rpc")];
const text = new Map(files.map((f) => [f, readFileSync(join(ROOT, f), "utf8")]));

/** Relative imports of a file, resolved to repository paths. */
function importsOf(file: string): string[] {
  const out: string[] = [];
  for (const m of (text.get(file) ?? "").matchAll(/(?:from|import)\s*["'](\.[^"']+)["']/g)) {
    const base = resolve(ROOT, dirname(file), m[1] ?? "");
    const found = [base, `${base}.ts`, join(base, "index.ts")].find((c) => existsSync(c) && statSync(c).isFile());
    if (found === undefined) throw new Error(`${file}: import "${m[1]}" does not resolve`);
    out.push(relative(ROOT, found));
  }
  return out;
}

describe("the source layout", () => {
  it(`has no import cycle among its ${files.length} modules`, () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const cycles: string[] = [];
    const visit = (file: string) => {
      state.set(file, "open");
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it("keeps cloudflare:workers to the entrypoint and the two Durable Object classes", () => {
    const runtime = files.filter((f) => /from\s*["']cloudflare:workers["']/.test(text.get(f) ?? "")).sort();
    expect(runtime).toEqual(["src/aggregator/aggregator.ts", "src/aggregator/registry.ts", "src/worker/entrypoint.ts"]);
  });

  it("never lets the aggregator or the wire formats import the Worker's modules", () => {
    const wrong = files
      .filter((f) => f.startsWith("src/aggregator/") || f.startsWith("src/wire/") || f.startsWith("src/common/"))
      .flatMap((f) => importsOf(f).filter((i) => i.startsWith("src/worker/")).map((i) => `${f} -> ${i}`));
    expect(wrong).toEqual([]);
  });
});
