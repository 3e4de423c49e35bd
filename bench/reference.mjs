// The figures README.md's "Capacity and cost" table states for the existing scenarios (a-f and the
// micro benchmarks), copied here by hand (README.md is not parsed): each run is compared with them,
// and a figure outside [low - 10%, high + 10%] of its README range is reported as moved.
// Update this list together with the README table.
import { fmt } from "./lib/table.mjs";

const get = (obj, path) => path.split(".").reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);

/** [label, README text, low, high, where in results.json, format, higher is better?] */
export const README_FIGURES = [
  ["(a) push 10 series: 2xx/s (bare)", "2,280-2,740/s", 2278, 2743, "targets.bare.a.okPerS", fmt.int, true],
  ["(a) p50 latency (bare)", "5-6 ms", 5, 6, "targets.bare.a.p50Ms", fmt.ms, false],
  ["(a) p99 latency (bare)", "24-37 ms", 24, 37, "targets.bare.a.p99Ms", fmt.ms, false],
  ["(a) Pushgateway 2xx/s", "2,640-3,210/s", 2643, 3208, "targets.pushgateway.a.okPerS", fmt.int, true],
  ["(b) push with 110k held: 2xx/s (bare)", "2,110-2,580/s", 2108, 2579, "targets.bare.b.okPerS", fmt.int, true],
  ["(b) Pushgateway 2xx/s", "10-14/s", 10, 14, "targets.pushgateway.b.okPerS", fmt.int, true],
  ["(c) PUT 10k series (bare)", "0.042-0.050 s", 0.042, 0.05, "targets.bare.c.10k.seconds", fmt.s, false],
  ["(c) PUT 100k series (bare)", "0.32-0.42 s", 0.321, 0.415, "targets.bare.c.100k.seconds", fmt.s, false],
  ["(c) Pushgateway PUT 10k", "0.10-0.13 s", 0.104, 0.128, "targets.pushgateway.c.10k.seconds", fmt.s, false],
  ["(c) Pushgateway PUT 100k", "0.40-0.46 s", 0.398, 0.457, "targets.pushgateway.c.100k.seconds", fmt.s, false],
  ["(d) scrape 110k, identity: time (bare)", "0.054-0.073 s", 0.054, 0.073, "targets.bare.d.identity.seconds", fmt.s, false],
  ["(d) scrape 110k, identity: bytes (bare)", "9.3 MB", 9.3e6, 9.3e6, "targets.bare.d.identity.bytes", fmt.mb, undefined],
  ["(d) scrape 110k, gzip: time (bare)", "0.115-0.129 s", 0.115, 0.129, "targets.bare.d.gzip.seconds", fmt.s, false],
  ["(d) scrape 110k, gzip: bytes (bare)", "0.83 MB", 0.83e6, 0.83e6, "targets.bare.d.gzip.bytes", fmt.mb, undefined],
  ["(d) series in the scrape (bare)", "110,000", 110_000, 110_000, "targets.bare.d.seriesHeld", fmt.int, undefined],
  ["(d) Pushgateway scrape, identity", "0.19-0.25 s", 0.188, 0.247, "targets.pushgateway.d.identity.seconds", fmt.s, false],
  ["(d) Pushgateway scrape, gzip", "0.25-0.31 s", 0.254, 0.305, "targets.pushgateway.d.gzip.seconds", fmt.s, false],
  ["(e) RPC inc: increments/s (bare)", "5,500-6,400/s", 5514, 6376, "targets.bare.e.inc.incrementsPerS", fmt.int, true],
  ["(e) RPC inc: DO write calls per 1,000 (bare)", "23-27", 23.1, 26.6, "targets.bare.e.inc.callsPer1000", (x) => fmt.num(x, 1), false],
  ["(e) batched: increments/s (bare)", "43,700-54,700/s", 43_656, 54_651, "targets.bare.e.batched.incrementsPerS", fmt.int, true],
  ["(e) batched: DO write calls per 1,000 (bare)", "2.5-2.7", 2.5, 2.7, "targets.bare.e.batched.callsPer1000", (x) => fmt.num(x, 1), false],
  ["(f) heap bytes per series (bare)", "139-140 B", 139, 140, "derived.bareHeapPerSeries", fmt.b, false],
  ["(f) heap bytes per series after scrapes (bare)", "220-222 B", 220, 222, "derived.bareHeapPerSeriesAfterScrape", fmt.b, false],
  ["(f) Pushgateway heap bytes per series", "760-810 B", 762, 810, "derived.pgHeapPerSeries", fmt.b, false],
  ["micro: exposition parser", "138-146 MB/s", 138, 146, "micro.parse.ours.mbPerS", (x) => `${fmt.num(x, 1)} MB/s`, true],
  ["micro: remote-write encode of 100k", "48-52 ms", 48, 52, "micro.remoteWrite.encodeMs", fmt.ms, false],
  ["micro: snappy of 100k", "34-35 ms", 34, 35, "micro.remoteWrite.snappyMs", fmt.ms, false],
];

/** Each README figure next to this run's, and whether it moved more than 10%. */
export function compareWithReadme(results, derived) {
  const all = { ...results, derived };
  return README_FIGURES.map(([label, readme, lo, hi, path, f, higherBetter]) => {
    const v = get(all, path);
    if (!Number.isFinite(v)) return { label, readme, measured: undefined, moved: undefined };
    const moved = v < lo * 0.9 || v > hi * 1.1;
    const change = v < lo ? v / lo - 1 : v > hi ? v / hi - 1 : 0;
    const better = change === 0 || higherBetter === undefined ? undefined : higherBetter ? change > 0 : change < 0;
    return { label, readme, measured: v, measuredText: f(v), changePct: change * 100, moved, better };
  });
}
