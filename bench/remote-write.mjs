// Benchmarks the remote-write export: protobuf encoding and snappy compression of ~100k TimeSeries.
//
// Usage: node bench/remote-write.mjs [runs]
//
// The mix: 100,006 TimeSeries from 81,429 stored series, each with 3 labels (instance, job, path; keys
// ~75 characters, ASCII, no escapes) in 100 families:
// - 80,000 scalars: 40 counter and 40 gauge families of 1,000 series each;
// - 1,429 histograms with 12 buckets (11 finite bounds + +Inf) in 20 families, each expanding to
//   12 `_bucket` + `_sum` + `_count` = 14 TimeSeries: 20,006 TimeSeries.
// No stale markers (they cost the same as live samples). Requests of at most 2,000 TimeSeries.
import { buildSync } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const snappy = createRequire(import.meta.url)("snappyjs");

/** Bundles the encoder the way a Worker gets it (one ESM file, no Node APIs) and imports it. */
async function loadEncoder() {
  const result = buildSync({
    bundle: true,
    format: "esm",
    write: false,
    platform: "neutral",
    target: "es2022",
    entryPoints: [join(here, "../src/wire/remote-write/write-request.ts")],
  });
  const out = join(here, "out");
  mkdirSync(out, { recursive: true });
  const file = join(out, "write-request.mjs");
  writeFileSync(file, result.outputFiles[0].text);
  return import(`${pathToFileURL(file).href}?t=${Date.now()}`);
}

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, Infinity];

/** Builds the families once; the stored form is what the aggregator hands to the encoder. */
export function buildFamilies() {
  const families = [];
  const key = (i) => `instance="host-${i % 200}.example.net:9100",job="job-${i % 10}",path="/api/v${i % 3}/resource/${i}"`;
  for (let f = 0; f < 80; f++) {
    const counter = f < 40;
    const series = new Map();
    for (let i = 0; i < 1000; i++) series.set(key(i), counter ? (i * 7919 + f) % 100_000 : ((i * 31 + f) % 1000) / 7);
    families.push({
      name: counter ? `app_requests_${f}_total` : `app_queue_depth_${f}`,
      type: counter ? "counter" : "gauge",
      help: counter ? "Requests handled, by path." : "Items waiting in the queue.",
      unit: "",
      series: columns(series, true),
    });
  }
  let made = 0;
  for (let f = 0; f < 20; f++) {
    const series = new Map();
    const n = f < 9 ? 72 : 71; // 9 * 72 + 11 * 71 = 1,429 histograms
    for (let i = 0; i < n; i++, made++) {
      const packed = new Float64Array(2 + 2 * BOUNDS.length);
      let cumulative = 0;
      for (let b = 0; b < BOUNDS.length; b++) {
        cumulative += (made * 13 + b * 7) % 50;
        packed[2 + BOUNDS.length + b] = cumulative;
        packed[2 + b] = BOUNDS[b];
      }
      packed[0] = cumulative * 0.137;
      packed[1] = cumulative;
      series.set(key(i), packed);
    }
    families.push({ name: `app_request_duration_${f}_seconds`, type: "histogram", help: "Request latency.", unit: "seconds", series: columns(series, false) });
  }
  return families;
}

/** A family's series as the export hands them to the encoder: the columns of a shard's page (src/common/model.ts SeriesColumns). */
function columns(series, scalar) {
  const keys = [...series.keys()];
  return { keys, values: scalar ? Float64Array.from(series.values()) : [...series.values()], from: 0, to: keys.length };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Runs the benchmark and returns the figures (times in ms, medians over `runs` after warm-up). */
export async function run({ runs = 9, warmup = 3, log = true } = {}) {
  const { encodeWriteRequests } = await loadEncoder();
  const families = buildFamilies();
  const timestampMs = Date.now();
  const encodeOnce = () => encodeWriteRequests(families, [], { timestampMs, maxSeriesPerRequest: 2000 });

  const encodeMs = [];
  const snappyMs = [];
  let last;
  let compressed = 0;
  for (let r = 0; r < warmup + runs; r++) {
    let t = performance.now();
    last = encodeOnce();
    const e = performance.now() - t;
    t = performance.now();
    compressed = 0;
    for (const batch of last.batches) compressed += snappy.compress(batch.body).length;
    const s = performance.now() - t;
    if (r >= warmup) {
      encodeMs.push(e);
      snappyMs.push(s);
    }
  }
  const raw = last.batches.reduce((n, b) => n + b.body.length, 0);
  const figures = {
    timeSeries: last.series,
    requests: last.batches.length,
    encodeMs: median(encodeMs),
    snappyMs: median(snappyMs),
    rawBytes: raw,
    compressedBytes: compressed,
    runs,
  };
  if (log) {
    console.log(`remote write 1.0 export, ${figures.timeSeries} TimeSeries in ${figures.requests} requests (median of ${runs} runs, node ${process.version})`);
    console.table({
      encode: { ms: round(figures.encodeMs), bytes: raw, "ns/series": Math.round((figures.encodeMs * 1e6) / figures.timeSeries) },
      snappy: { ms: round(figures.snappyMs), bytes: compressed, "ns/series": Math.round((figures.snappyMs * 1e6) / figures.timeSeries) },
    });
    console.log(`compression ratio ${(raw / compressed).toFixed(2)}x, ${(raw / figures.timeSeries).toFixed(1)} raw bytes per TimeSeries`);
  }
  return figures;
}

function round(x) {
  return Math.round(x * 100) / 100;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await run({ runs: Number(process.argv[2] ?? 9) });
}
