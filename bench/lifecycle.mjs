// Lifecycle costs (scenario h): sweeping 100k expired series, how long writes wait meanwhile, and the
// heap of cumulative sources' tracked series. See bench/README.md ("h: lifecycle").
//
// One bare Miniflare instance of the counting build (bench/instrument/gateway.ts, which times every
// `alarm` / `sweep` run inside the Durable Object) with SHARDS=1, so the expiring series, the alarm
// and the steady writes all meet on the one shard (the worst case: with more shards only the writes
// that land on the sweeping shard wait). No remote-write endpoint (so the sweep writes no stale
// markers), as wrangler.toml has it.
import { latencyStats, openLoop, percentiles } from "./lib/drive.mjs";
import { heapAfterGc, Inspector } from "./lib/inspector.mjs";
import { fmt } from "./lib/table.mjs";
import { setTimeout as sleep } from "node:timers/promises";

const TTL_SERIES = 100_000;
const TTL_SECONDS = 8;
const WRITE_INTERVAL_MS = 10; // 100 small writes/s
const SOURCES = 100;
const SOURCE_SERIES = 1_000;

function steadyBody(i) {
  const lines = ["# TYPE lifecycle_steady_total counter"];
  for (let k = 0; k < 10; k++) lines.push(`lifecycle_steady_total{k="${k}"} ${i + k}`);
  return `${lines.join("\n")}\n`;
}

/**
 * One source's registry: 10 counter families x 100 series, totals growing with `round`; half the
 * families count whole things (small integers, which V8 keeps unboxed), half sums of seconds
 * (fractions, which V8 keeps as heap numbers).
 */
function sourceBody(source, round) {
  const lines = [];
  for (let f = 0; f < 10; f++) {
    lines.push(`# TYPE lifecycle_src_f${f}_total counter`);
    const frac = f % 2 === 1 ? 0.37 : 0;
    for (let i = 0; i < SOURCE_SERIES / 10; i++) lines.push(`lifecycle_src_f${f}_total{path="/api/v1/items/${i}",code="200"} ${round * 100 + source + i + frac}`);
  }
  return `${lines.join("\n")}\n`;
}

export async function run(ctx) {
  const [port, inspectorPort] = [await ctx.freePort(), await ctx.freePort()];
  const inst = await ctx.startMiniflare("lifecycle", {
    port,
    inspectorPort,
    durableObjectsPersist: ctx.tempDir("lifecycle"),
    workers: [ctx.instrumentedGateway({ ...ctx.VARS, SHARDS: "1", MAX_BODY_BYTES: String(32 * 1024 * 1024) })],
  });
  const base = `http://127.0.0.1:${port}`;
  const out = { shards: 1, errors: {} };
  const poke = () => ctx.httpRequest(`${base}/-/healthy`, { timeoutMs: 5_000 });
  const counters = async () => JSON.parse((await ctx.expectOk(`${base}/__bench/counters`, {}, "bench counters")).body.toString("utf8"));
  const step = async (key, fn) => {
    ctx.log(`lifecycle: ${key}`);
    try {
      out[key] = await fn();
    } catch (error) {
      out.errors[key] = error.stack ?? String(error);
      ctx.log(`lifecycle: ${key} FAILED: ${error.message}`);
    }
  };
  try {
    await ctx.waitHealthy(`${base}/-/ready`, "lifecycle gateway");
    const insp = await Inspector.connect(`ws://127.0.0.1:${inspectorPort}/core:user:metrics-gateway`);
    try {
      await step("sources", async () => {
        const before = await heapAfterGc(insp, poke);
        const rows0 = await counters();
        const rounds = [];
        for (let round = 1; round <= 2; round++) {
          for (let s = 0; s < SOURCES; s++) {
            await ctx.expectOk(`${base}/metrics`, { method: "POST", headers: { "content-type": ctx.TEXT_CT, "metrics-source": `src-${s}` }, body: sourceBody(s, round) }, "source push");
          }
          const heap = await heapAfterGc(insp, poke);
          const c = await counters();
          rounds.push({ round, heapUsedBytes: heap.usedBytes, perTrackedSeries: (heap.usedBytes - before.usedBytes) / (SOURCES * SOURCE_SERIES), rowsWritten: sumRows(c) - sumRows(rows0) });
        }
        return { sources: SOURCES, seriesPerSource: SOURCE_SERIES, trackedSeries: SOURCES * SOURCE_SERIES, aggregateSeries: SOURCE_SERIES, heapBeforeBytes: before.usedBytes, rounds };
      });
    } finally {
      insp.close();
    }
    // Round 1: the first sweep of the isolate (its code not optimized yet); round 2: the same again;
    // rounds 3 and 4: the same with 100 small writes/s meanwhile (their latencies pooled).
    for (const [key, withWrites] of [
      ["sweep", false],
      ["sweepAgain", false],
      ["sweepWithWrites", true],
      ["sweepWithWrites2", true],
    ]) {
      await step(key, () => sweepRound(ctx, base, counters, withWrites));
    }
    const pooled = {};
    for (const w of ["before", "during", "after"]) {
      const lat = [out.sweepWithWrites, out.sweepWithWrites2].flatMap((r) => r?.writes?.[w]?.latenciesMs ?? []);
      const non2xx = [out.sweepWithWrites, out.sweepWithWrites2].reduce((n, r) => n + (r?.writes?.[w]?.non2xx ?? 0), 0);
      pooled[w] = { ...percentiles(lat), non2xx };
    }
    out.writesPooled = pooled;
  } finally {
    await inst.dispose();
  }
  return out;
}

function sumRows(c) {
  return Object.values(c.rows).reduce((a, b) => a + b, 0);
}

async function sweepRound(ctx, base, counters, withWrites) {
  const seen = (await counters()).sweeps.length;
  const writer = withWrites
    ? openLoop(WRITE_INTERVAL_MS, (i) => ({ url: `${base}/metrics/job/steady/instance/a`, method: "POST", headers: { "content-type": ctx.TEXT_CT }, body: steadyBody(i) }))
    : undefined;
  await sleep(withWrites ? 1_000 : 0);
  const body = ctx.bigBody("ttl", 100, TTL_SERIES / 100);
  const pushStart = Date.now();
  const push = await ctx.expectOk(`${base}/metrics`, { method: "POST", headers: { "content-type": ctx.TEXT_CT, "metrics-ttl": String(TTL_SECONDS) }, body }, "TTL push");
  const pushEnd = Date.now();
  const c0 = await counters();
  // Wait for the alarm's sweep to start and to end (the counting build records both).
  let sweeps = [];
  const deadline = Date.now() + (TTL_SECONDS + 120) * 1000;
  for (;;) {
    const c = await counters();
    sweeps = c.sweeps.slice(seen).filter((s) => s.method === "sweep");
    const done = sweeps.filter((s) => s.end !== 0);
    const removed = done.reduce((n, s) => n + (s.removed ?? 0), 0);
    if (removed >= TTL_SERIES) break;
    if (Date.now() > deadline) throw new Error(`the sweep removed ${removed} of ${TTL_SERIES} series within ${TTL_SECONDS + 120} s`);
    await sleep(100);
  }
  const c1 = await counters();
  // From the first sweep run that removed series to the end of the last one.
  const working = sweeps.filter((s) => (s.removed ?? 0) > 0);
  const start = Math.min(...working.map((s) => s.start));
  const end = Math.max(...working.map((s) => Math.abs(s.end)));
  await sleep(withWrites ? 2_000 : 0);
  const records = writer ? await writer.stop() : [];
  const alarms = c1.sweeps.slice(seen).filter((s) => s.method === "alarm").length;
  const result = {
    series: TTL_SERIES,
    ttlSeconds: TTL_SECONDS,
    pushSeconds: push.ms / 1000,
    sweepSeconds: (end - start) / 1000,
    sweepRuns: sweeps.map((s) => ({ startMsAfterPush: s.start - pushEnd, seconds: (Math.abs(s.end) - s.start) / 1000, removed: s.removed })),
    alarms,
    // Rows the sweep wrote (and, in round 2, the steady writes meanwhile, counted separately below).
    rowsWritten: sumRows(c1) - sumRows(c0),
    alarmCalls: (c1.calls["aggregator.alarm"] ?? 0) - (c0.calls["aggregator.alarm"] ?? 0),
    startedAfterExpiryMs: start - (pushStart + TTL_SECONDS * 1000),
  };
  if (writer) {
    result.writes = {
      intervalMs: WRITE_INTERVAL_MS,
      // While the 100k series were held and not yet expired (the push itself excluded).
      before: latencyStats(records, pushEnd + 500, start - 200),
      during: latencyStats(records, start, end),
      after: latencyStats(records, end + 200, Infinity),
    };
  }
  return result;
}

/** Table rows: [figure, value, target]. */
export function rows(out) {
  if (out === undefined) return [];
  const lines = [];
  for (const [key, label] of [
    ["sweep", "sweep of 100k expired series, the isolate's first"],
    ["sweepAgain", "the same again"],
    ["sweepWithWrites", "the same with 100 small writes/s meanwhile"],
    ["sweepWithWrites2", "and once more"],
  ]) {
    const s = out[key];
    if (!s) continue;
    const runs = s.sweepRuns.filter((r) => r.removed > 0).length;
    lines.push([`(h) ${label}: sweep time`, `${fmt.s(s.sweepSeconds)} (${runs} sweep run${runs > 1 ? "s" : ""} removing series, ${s.alarms} alarm${s.alarms > 1 ? "s" : ""}), started ${fmt.ms(s.startedAfterExpiryMs)} after expiry`]);
    lines.push([`(h) ${label}: rows written`, `${fmt.int(s.rowsWritten)}${key === "sweepWithWrites" ? " (the steady writes' included)" : ""} (${fmt.num((s.rowsWritten / s.series) * 1000, 1)} per 1,000 series)`]);
  }
  if (out.writesPooled) {
    for (const w of ["before", "during", "after"]) {
      const x = out.writesPooled[w];
      lines.push([
        `(h) small write latency ${w} the sweep (rounds 3-4: ${fmt.int(x.requests)} writes${x.non2xx ? `, ${x.non2xx} non-2xx` : ""})`,
        `p50 ${fmt.ms(x.p50Ms)}, p99 ${fmt.ms(x.p99Ms)}, max ${fmt.ms(x.maxMs)}`,
      ]);
    }
  }
  const src = out.sources;
  if (src) {
    for (const r of src.rounds) {
      lines.push([
        `(h) heap per tracked source series, ${src.sources} sources x ${fmt.int(src.seriesPerSource)} series, push round ${r.round}`,
        `${fmt.b(r.perTrackedSeries)} (whole isolate: ${fmt.mb(src.heapBeforeBytes)} -> ${fmt.mb(r.heapUsedBytes)}; ${fmt.int(r.rowsWritten)} rows written so far)`,
      ]);
    }
  }
  return lines;
}
