// The figures README.md's "Capacity and cost" table states for the existing scenarios (a-f and the
// micro benchmarks), copied here by hand (README.md is not parsed): each run is compared with them,
// and a figure outside [low - 10%, high + 10%] of its README range is reported as moved.
// Update this list together with the README table.
import { fmt } from "./lib/table.mjs";

const get = (obj, path) => path.split(".").reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);

/** [label, README text, low, high, where in results.json, format, higher is better?] */
export const README_FIGURES = [
  ["(a) push 10 series: 2xx/s (bare)", "2,620-2,740/s", 2620, 2740, "targets.bare.a.okPerS", fmt.int, true],
  ["(a) p50 latency (bare)", "5 ms", 5, 5, "targets.bare.a.p50Ms", fmt.ms, false],
  ["(a) p99 latency (bare)", "24-28 ms", 24, 28, "targets.bare.a.p99Ms", fmt.ms, false],
  ["(a) Pushgateway 2xx/s", "3,040-3,210/s", 3040, 3210, "targets.pushgateway.a.okPerS", fmt.int, true],
  ["(b) push with 110k held: 2xx/s (bare)", "2,340-2,580/s", 2340, 2580, "targets.bare.b.okPerS", fmt.int, true],
  ["(b) Pushgateway 2xx/s", "12-14/s", 12, 14, "targets.pushgateway.b.okPerS", fmt.int, true],
  ["(c) PUT 10k series (bare)", "0.042-0.050 s", 0.042, 0.05, "targets.bare.c.10k.seconds", fmt.s, false],
  ["(c) PUT 100k series (bare)", "0.32-0.38 s", 0.32, 0.38, "targets.bare.c.100k.seconds", fmt.s, false],
  ["(c) Pushgateway PUT 10k", "0.10-0.11 s", 0.104, 0.113, "targets.pushgateway.c.10k.seconds", fmt.s, false],
  ["(c) Pushgateway PUT 100k", "0.40 s", 0.398, 0.403, "targets.pushgateway.c.100k.seconds", fmt.s, false],
  ["(d) scrape 110k, identity: time (bare)", "0.054-0.056 s", 0.054, 0.056, "targets.bare.d.identity.seconds", fmt.s, false],
  ["(d) scrape 110k, identity: bytes (bare)", "9.3 MB", 9.3e6, 9.3e6, "targets.bare.d.identity.bytes", fmt.mb, undefined],
  ["(d) scrape 110k, gzip: time (bare)", "0.115-0.121 s", 0.115, 0.121, "targets.bare.d.gzip.seconds", fmt.s, false],
  ["(d) scrape 110k, gzip: bytes (bare)", "0.83 MB", 0.83e6, 0.83e6, "targets.bare.d.gzip.bytes", fmt.mb, undefined],
  ["(d) series in the scrape (bare)", "110,000", 110_000, 110_000, "targets.bare.d.seriesHeld", fmt.int, undefined],
  ["(d) Pushgateway scrape, identity", "0.19 s", 0.188, 0.194, "targets.pushgateway.d.identity.seconds", fmt.s, false],
  ["(d) Pushgateway scrape, gzip", "0.25-0.27 s", 0.254, 0.268, "targets.pushgateway.d.gzip.seconds", fmt.s, false],
  ["(e) RPC inc: increments/s (bare)", "5,900-6,400/s", 5900, 6400, "targets.bare.e.inc.incrementsPerS", fmt.int, true],
  ["(e) RPC inc: DO write calls per 1,000 (bare)", "24-27", 23.8, 26.6, "targets.bare.e.inc.callsPer1000", (x) => fmt.num(x, 1), false],
  ["(e) batched: increments/s (bare)", "47,000-55,000/s", 47_000, 55_000, "targets.bare.e.batched.incrementsPerS", fmt.int, true],
  ["(e) batched: DO write calls per 1,000 (bare)", "2.6-2.7", 2.6, 2.7, "targets.bare.e.batched.callsPer1000", (x) => fmt.num(x, 1), false],
  ["(f) heap bytes per series (bare)", "139-140 B", 139, 140, "derived.bareHeapPerSeries", fmt.b, false],
  ["(f) heap bytes per series after scrapes (bare)", "220 B", 220, 221, "derived.bareHeapPerSeriesAfterScrape", fmt.b, false],
  ["(f) Pushgateway heap bytes per series", "790-800 B", 790, 800, "derived.pgHeapPerSeries", fmt.b, false],
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
