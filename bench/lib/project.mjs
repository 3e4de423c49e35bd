// The project's own sharding, imported into Node (bundled from src/ with esbuild), so the bench can
// say on which shard each Pushgateway group it pushes lands: the same code the Worker runs.
import { buildSync } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

let loaded;

export async function sharding() {
  if (loaded) return loaded;
  const entry = [
    `export { labelKey } from ${JSON.stringify(join(here, "../../src/common/labels.ts"))};`,
    `export { shardForGroup } from ${JSON.stringify(join(here, "../../src/aggregator/objects.ts"))};`,
    `export { parseGroupingPath } from ${JSON.stringify(join(here, "../../src/wire/grouping.ts"))};`,
  ].join("\n");
  const result = buildSync({
    stdin: { contents: entry, resolveDir: here, loader: "ts" },
    bundle: true,
    format: "esm",
    write: false,
    platform: "neutral",
    target: "es2022",
    external: ["cloudflare:workers"],
  });
  const out = join(here, "..", "out");
  mkdirSync(out, { recursive: true });
  const file = join(out, "sharding.mjs");
  writeFileSync(file, result.outputFiles[0].text);
  const mod = await import(`${pathToFileURL(file).href}?t=${Date.now()}`);
  /** The shard of the group at `path` ("job/x/instance/y"), as the Worker computes it. */
  const shardOfPath = (path, shards) => mod.shardForGroup(mod.labelKey(mod.parseGroupingPath(path)), shards);
  loaded = { ...mod, shardOfPath };
  return loaded;
}
