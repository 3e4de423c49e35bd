// Exposition parser throughput: ours vs parse-prometheus-text-format vs a bare charCodeAt scan.
//
// Run: node bench/parse.mjs [--runs N]. As a module: `const r = await run({ runs: 7 })`.
// Ours is bundled from src/wire/exposition/parse.ts (and merge.ts) with esbuild into a temp dir, so the
// TypeScript is measured as the Worker would run it, without a build step.
//
// "ours" is parseExposition(body, "text") from string to families, each series with its canonical
// label key (the key prepare() stores it under, no longer computed there). Also measured, for
// information: the same with Pushgateway grouping labels merged into the keys (`group`, as a PUT to
// /metrics/job/... does), and parse followed by prepare() (duplicate-key check, value packing).

import { buildSync } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);

/** Bundles src/wire/exposition/parse.ts and src/worker/validate.ts into a temp dir and imports them. */
async function loadOurs() {
  const out = buildSync({
    stdin: {
      contents: 'export { parseExposition } from "./src/wire/exposition/parse.ts"; export { prepare } from "./src/worker/validate.ts";',
      resolveDir: root,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    write: false,
    logLevel: "warning",
  });
  const dir = mkdtempSync(join(tmpdir(), "bench-parse-"));
  try {
    const file = join(dir, "parse.mjs");
    writeFileSync(file, out.outputFiles[0].text);
    return await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small deterministic PRNG (mulberry32), so every run measures the same body. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A realistic text-format body of `samples` sample lines (about 5 MB for 100k): counters and gauges
 * with 2-4 labels, one family with labels out of order, and classic histograms (10 buckets, sum,
 * count), each family with HELP and TYPE, as client libraries write them.
 */
export function makeBody(samples = 100_000) {
  const rand = rng(42);
  const methods = ["GET", "POST", "PUT", "DELETE"];
  const codes = ["200", "201", "204", "301", "400", "404", "500", "503"];
  const regions = ["us1", "eu1", "ap1"];
  const lines = [];
  let n = 0;
  const family = (name, type, help) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

  family("http_requests_total", "counter", "Total HTTP requests handled.");
  for (let i = 0; n < samples * 0.25; i++, n++) {
    lines.push(`http_requests_total{code="${codes[i % 8]}",method="${methods[(i >> 3) % 4]}",path="/u${i >> 5}"} ${Math.floor(rand() * 1e6)}`);
  }
  family("queue_depth", "gauge", "Jobs waiting per queue.");
  for (let i = 0; n < samples * 0.65; i++, n++) {
    lines.push(`queue_depth{queue="q${i >> 4}",shard="${i % 16}"} ${(rand() * 1000).toFixed(2)}`);
  }
  // Labels out of alphabetical order, as some clients write them.
  family("jobs_total", "counter", "Jobs processed by worker.");
  for (let i = 0; n < samples * 0.8; i++, n++) {
    lines.push(`jobs_total{worker="w${i >> 3}",queue="q${i % 8}",region="${regions[i % 3]}",ok="${i % 5 === 0 ? "0" : "1"}"} ${Math.floor(rand() * 1e5)}`);
  }
  family("rpc_seconds", "histogram", "RPC latency.");
  const bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
  for (let i = 0; n < samples * 0.9; i++) {
    const labels = `method="${methods[i % 4]}",svc="s${i >> 2}"`;
    let count = 0;
    for (const le of bounds) {
      count += Math.floor(rand() * 50);
      lines.push(`rpc_seconds_bucket{${labels},le="${le}"} ${count}`);
    }
    lines.push(`rpc_seconds_sum{${labels}} ${(rand() * count).toFixed(3)}`);
    lines.push(`rpc_seconds_count{${labels}} ${count}`);
    n += bounds.length + 2;
  }
  family("cache_hit_ratio", "gauge", "Cache hit ratio.");
  for (let i = 0; n < samples; i++, n++) {
    lines.push(`cache_hit_ratio{cache="c${i % 7}",node="n${i >> 3}",tier="${i % 2 ? "hot" : "cold"}"} ${rand().toExponential(4)}`);
  }
  return { body: `${lines.join("\n")}\n`, samples: n };
}

/** The floor of what any parser must do: touch every character once. */
function bareScan(body) {
  let lines = 0;
  for (let i = 0; i < body.length; i++) if (body.charCodeAt(i) === 10) lines++;
  return lines;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure(fn, body, warmup, runs) {
  for (let i = 0; i < warmup; i++) fn(body);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn(body);
    times.push(performance.now() - t0);
  }
  const ms = median(times);
  const best = Math.min(...times);
  return { ms, mbPerS: body.length / 1e6 / (ms / 1e3), bestMs: best, bestMbPerS: body.length / 1e6 / (best / 1e3) };
}

/** The grouping labels of the `grouped` figure: a push to /metrics/job/bench/instance/host-1. */
const GROUP = ["job", "bench", "instance", "host-1"];

/**
 * Runs the benchmark and returns the figures: per contestant the median run (`ms`, `mbPerS`) and the
 * best one (`bestMs`, `bestMbPerS`); MB are 10^6 characters of the (ASCII) body. `ours` is the parse
 * alone (keys included), `grouped` the parse with grouping labels, `prepared` parse then prepare().
 * @param {{ samples?: number, runs?: number, warmup?: number }} [options]
 */
export async function run({ samples = 100_000, runs = 15, warmup = 5 } = {}) {
  const { parseExposition, prepare } = await loadOurs();
  const peerModule = require("parse-prometheus-text-format");
  const peer = typeof peerModule === "function" ? peerModule : peerModule.default;
  const { body } = makeBody(samples);

  const families = parseExposition(body, "text");
  const ourSeries = families.reduce((n, f) => n + f.keys.length, 0);

  const ours = measure((b) => parseExposition(b, "text"), body, warmup, runs);
  const peerFig = measure(peer, body, warmup, runs);
  const bare = measure(bareScan, body, warmup, runs);
  const grouped = measure((b) => parseExposition(b, "text", { group: GROUP }), body, warmup, runs);
  const prepared = measure((b) => prepare(parseExposition(b, "text")), body, warmup, runs);
  return {
    bodyBytes: Buffer.byteLength(body),
    samples,
    series: ourSeries,
    families: families.length,
    ours,
    peer: peerFig,
    bare,
    grouped,
    prepared,
    ratio: ours.mbPerS / peerFig.mbPerS,
    runs,
  };
}

function print(r) {
  const row = (name, f) =>
    `${name.padEnd(30)} ${f.mbPerS.toFixed(1).padStart(7)} MB/s ${f.ms.toFixed(1).padStart(7)} ms   (best ${f.bestMbPerS.toFixed(1)} MB/s, ${f.bestMs.toFixed(1)} ms)`;
  console.log(`body: ${(r.bodyBytes / 1e6).toFixed(2)} MB, ${r.samples} sample lines, ${r.series} series in ${r.families} families; median of ${r.runs} runs`);
  console.log(row("ours (parseExposition, text)", r.ours));
  console.log(row("parse-prometheus-text-format", r.peer));
  console.log(row("bare charCodeAt scan", r.bare));
  console.log(row("ours, grouping labels in keys", r.grouped));
  console.log(row("ours, then prepare()", r.prepared));
  console.log(`ours / peer: ${r.ratio.toFixed(2)}x; ours / bare scan: ${(r.ours.mbPerS / r.bare.mbPerS).toFixed(2)}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf("--runs");
  const runs = i > 0 ? Number(process.argv[i + 1]) : undefined;
  print(await run(runs === undefined ? {} : { runs }));
}
