// Scenario (g), scale: 1,000,000 series over 8 shards. See bench/README.md ("g: scale").
//
// Three servers, one after the other, each alone on the machine:
//   pushgateway  Debian's Pushgateway 1.5.1 (pushes, scrapes);
//   single       the gateway in one bare Miniflare instance (one workerd process, the Worker and its
//                Durable Objects in one isolate, as the bench's "bare" column): times;
//   split        the gateway in two Miniflare instances (two workerd processes): the Durable Object
//                classes in one ("metrics-gateway-shards"), the Worker in the other, its AGGREGATOR and
//                REGISTRY bindings naming the first with script_name (reached through Miniflare's dev
//                registry, as two `wrangler dev` sessions reach each other). The Worker's isolate is
//                then alone in its process: its V8 heap is sampled through the inspector while a scrape
//                or an export runs, and its process's CPU time and peak RSS are its own.
// Each is filled in steps (100k, 600k, 1M series; Pushgateway groups of 10,000 series: 100 families x
// 100 series, the families shared by every group) and measured at each step: full scrapes (identity,
// gzip), full remote-write exports to a local receiver (the gateway), and at the top a 100k-series
// push into a fresh group.
import { startReceiver } from "./lib/receiver.mjs";
import { cpuProfile, HeapSampler, heapAfterGc, Inspector, procCpuSeconds, resetPeakRss, rss } from "./lib/inspector.mjs";
import { sharding } from "./lib/project.mjs";
import { fmt, median, spread } from "./lib/table.mjs";

export const SERIES_PER_GROUP = 10_000;
const FAMILIES = 100;
const PER_FAMILY = 100;
const SHARDS = 8;
const HEAP_TARGET = 64 * 1024 * 1024;

/**
 * The vars the scale run changes (everything else as wrangler.toml says: MAX_SHARD_BYTES and
 * MAX_BODY_BYTES stay at their defaults, which these pushes fit).
 */
export function scaleVars(series) {
  return {
    SHARDS: String(SHARDS),
    // The fullest shard holds ~130k of the 1M series (100 groups hash onto 8 shards), and the
    // 100k-series push lands on one shard too: 150,000 (the default) is too few.
    MAX_SERIES: String(Math.max(400_000, Math.ceil((series / SHARDS) * 2 + 100_000))),
    // Each of the 100 families has 100 series per group: 10,000 over 100 groups, exactly the
    // default limit; twice that, so the limit is not what is measured.
    MAX_SERIES_PER_FAMILY: String(Math.max(20_000, Math.ceil((series / FAMILIES) * 2))),
  };
}

/** Group `g`: 100 families x 100 series; family names shared by all groups, label values unique per group. */
export function scaleBody(g) {
  const codes = ["200", "404", "500"];
  const parts = [];
  for (let f = 0; f < FAMILIES; f++) {
    const counter = f % 2 === 0;
    const name = counter ? `scale_f${f}_total` : `scale_g${f}`;
    const lines = [`# HELP ${name} Scale family ${f}.`, `# TYPE ${name} ${counter ? "counter" : "gauge"}`];
    for (let i = 0; i < PER_FAMILY; i++) {
      const host = `host="host-${i % 20}"`;
      const path = `path="/api/v1/items/${g * PER_FAMILY + i}"`;
      lines.push(counter ? `${name}{code="${codes[i % 3]}",${host},${path}} ${(g * 7919 + f * 31 + i) % 100000}` : `${name}{${host},${path}} ${((g * 31 + f + i) % 1000) / 8}`);
    }
    parts.push(lines.join("\n"));
  }
  return Buffer.from(`${parts.join("\n")}\n`);
}

const groupPath = (g) => `job/scale/instance/i${g}`;

/** Lines of `buf` that start with `prefix` (sample lines; HELP/TYPE start with "#"). */
function countLines(buf, prefix) {
  const needle = Buffer.from(`\n${prefix}`);
  let n = buf.subarray(0, prefix.length).toString() === prefix ? 1 : 0;
  for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) n++;
  return n;
}

export async function run(ctx, options = {}) {
  const series = options.series ?? 1_000_000;
  const repeats = options.repeats ?? 3;
  const exportRepeats = options.exportRepeats ?? 2;
  const targets = options.targets ?? ["pushgateway", "single", "split"];
  const groups = Math.max(1, Math.round(series / SERIES_PER_GROUP));
  const levels = [...new Set([0.1, 0.6, 1].map((f) => Math.max(1, Math.round(groups * f))))];
  const vars = scaleVars(groups * SERIES_PER_GROUP);
  const { shardOfPath } = await sharding();
  const perShard = new Array(SHARDS).fill(0);
  for (let g = 0; g < groups; g++) perShard[shardOfPath(groupPath(g), SHARDS)] += SERIES_PER_GROUP;
  const result = {
    series: groups * SERIES_PER_GROUP,
    levels: levels.map((g) => g * SERIES_PER_GROUP),
    repeats,
    exportRepeats,
    varsOverridden: vars,
    seriesPerShard: perShard,
    targets: {},
    errors: {},
  };
  ctx.log(`scale: ${result.series.toLocaleString("en-US")} series in ${groups} groups over ${SHARDS} shards (per shard: ${perShard.join(", ")})`);
  const receiver = await startReceiver();
  try {
    for (const kind of targets) {
      try {
        result.targets[kind] = await runTarget(ctx, kind, { vars, levels, groups, repeats, exportRepeats, receiver });
      } catch (error) {
        result.errors[kind] = error.stack ?? String(error);
        ctx.log(`scale ${kind} FAILED: ${error.message}`);
      }
    }
  } finally {
    await receiver.close();
  }
  return result;
}

/** Starts one of the three servers; answers what the measurements need. */
async function start(ctx, kind, vars, receiver) {
  if (kind === "pushgateway") {
    const pg = await ctx.startPushgateway("scale-pushgateway");
    return {
      kind,
      base: pg.base,
      gateway: false,
      measure: timed(),
      memory: async () => ({ rssBytes: rss(pg.pid).rssBytes, heap: await pg.heap() }),
      stop: pg.stop,
    };
  }
  const common = {
    modules: true,
    scriptPath: ctx.GATEWAY_BUNDLE,
    modulesRoot: ctx.GATEWAY_DIR,
    compatibilityDate: ctx.COMPAT_DATE,
    bindings: { ...ctx.VARS, ...vars, SECRET_PROM_ENDPOINT: receiver.url },
  };
  const localObjects = {
    AGGREGATOR: { className: "Aggregator", useSQLite: true },
    REGISTRY: { className: "TypeRegistry", useSQLite: true },
  };
  if (kind === "single") {
    const [port, inspectorPort] = [await ctx.freePort(), await ctx.freePort()];
    const mf = await ctx.startMiniflare("scale-single", {
      port,
      inspectorPort,
      unsafeTriggerHandlers: true,
      durableObjectsPersist: ctx.tempDir("scale-single"),
      workers: [{ name: "metrics-gateway", ...common, durableObjects: localObjects }],
    });
    const base = `http://127.0.0.1:${port}`;
    await ctx.waitHealthy(`${base}/-/ready`, "scale single");
    const poke = () => ctx.httpRequest(`${base}/-/healthy`, { timeoutMs: 5_000 });
    return {
      kind,
      base,
      gateway: true,
      // The whole workerd process's CPU (the Worker and the shards, one thread): informative only.
      measure: timed(() => procCpuSeconds(mf.pid)),
      memory: async () => {
        const insp = await Inspector.connect(`ws://127.0.0.1:${inspectorPort}/core:user:metrics-gateway`);
        try {
          return { rssBytes: rss(mf.pid).rssBytes, heap: await heapAfterGc(insp, poke) };
        } finally {
          insp.close();
        }
      },
      stop: () => mf.dispose(),
    };
  }
  // split: the shards in one workerd process, the Worker in another.
  const registry = ctx.tempDir("scale-devregistry");
  const shards = await ctx.startMiniflare("scale-split-shards", {
    port: await ctx.freePort(),
    unsafeDevRegistryPath: registry,
    durableObjectsPersist: ctx.tempDir("scale-split"),
    workers: [{ name: "metrics-gateway-shards", ...common, durableObjects: localObjects }],
  });
  const [port, inspectorPort] = [await ctx.freePort(), await ctx.freePort()];
  let worker;
  try {
    worker = await ctx.startMiniflare("scale-split-worker", {
      port,
      inspectorPort,
      unsafeDevRegistryPath: registry,
      unsafeTriggerHandlers: true,
      workers: [
        {
          name: "metrics-gateway",
          ...common,
          durableObjects: {
            AGGREGATOR: { className: "Aggregator", scriptName: "metrics-gateway-shards", useSQLite: true },
            REGISTRY: { className: "TypeRegistry", scriptName: "metrics-gateway-shards", useSQLite: true },
          },
        },
      ],
    });
  } catch (error) {
    await shards.dispose();
    throw error;
  }
  const base = `http://127.0.0.1:${port}`;
  await ctx.waitHealthy(`${base}/-/ready`, "scale split (Worker -> shards through the dev registry)");
  const poke = () => ctx.httpRequest(`${base}/-/healthy`, { timeoutMs: 5_000 });
  const insp = await Inspector.connect(`ws://127.0.0.1:${inspectorPort}/core:user:metrics-gateway`);
  return {
    kind,
    base,
    gateway: true,
    insp,
    poke,
    workerPid: worker.pid,
    shardsPid: shards.pid,
    measure: async (fn, { live = false } = {}) => {
      const baseline = await heapAfterGc(insp, poke);
      const cpu0 = procCpuSeconds(worker.pid);
      const shardsCpu0 = procCpuSeconds(shards.pid);
      const rss0 = rss(worker.pid).rssBytes;
      const hwmReset = resetPeakRss(worker.pid);
      const sampler = new HeapSampler(insp, live ? 10 : 2, { live, poke }).start();
      const t0 = performance.now();
      let value;
      let failure;
      try {
        value = await fn();
      } catch (error) {
        failure = error;
      }
      const wallMs = performance.now() - t0;
      const heap = await sampler.stop();
      if (failure !== undefined) throw failure;
      const after = rss(worker.pid);
      return {
        value,
        seconds: wallMs / 1000,
        workerCpuSeconds: procCpuSeconds(worker.pid) - cpu0,
        shardsCpuSeconds: procCpuSeconds(shards.pid) - shardsCpu0,
        heap: { ...heap, baselineUsedBytes: baseline.usedBytes },
        rss: { beforeBytes: rss0, peakBytes: hwmReset ? after.hwmBytes : NaN, peakGrowthBytes: hwmReset ? after.hwmBytes - rss0 : NaN },
      };
    },
    memory: async () => ({ workerRssBytes: rss(worker.pid).rssBytes, shardsRssBytes: rss(shards.pid).rssBytes, workerHeap: await heapAfterGc(insp, poke) }),
    stop: async () => {
      insp.close();
      await worker.dispose();
      await shards.dispose();
    },
  };
}

/** A measurement that only times `fn` (and reads `cpu`, if given, before and after). */
function timed(cpu) {
  return async (fn) => {
    const c0 = cpu?.();
    const t0 = performance.now();
    const value = await fn();
    const seconds = (performance.now() - t0) / 1000;
    return { value, seconds, processCpuSeconds: cpu ? cpu() - c0 : undefined };
  };
}

async function runTarget(ctx, kind, { vars, levels, groups, repeats, exportRepeats, receiver }) {
  ctx.log(`scale ${kind}: starting`);
  const t = await start(ctx, kind, vars, receiver);
  const out = { pushSeconds: [], levels: {}, errors: {} };
  try {
    let pushed = 0;
    for (const level of levels) {
      const pushStart = performance.now();
      for (; pushed < level && pushed < groups; pushed++) {
        const body = scaleBody(pushed);
        const r = await ctx.expectOk(`${t.base}/metrics/${groupPath(pushed)}`, { method: "PUT", headers: { "content-type": ctx.TEXT_CT }, body }, `scale PUT group ${pushed}`);
        out.pushSeconds.push(r.ms / 1000);
      }
      const seriesNow = pushed * SERIES_PER_GROUP;
      ctx.log(`scale ${kind}: ${seriesNow.toLocaleString("en-US")} series pushed (${((performance.now() - pushStart) / 1000).toFixed(1)} s for this step)`);
      out.levels[seriesNow] = await measureLevel(ctx, t, seriesNow, { repeats, exportRepeats, receiver, top: level === levels[levels.length - 1] });
    }
    out.put100k = await put100k(ctx, t, repeats);
    out.memory = await t.memory().catch((error) => ({ error: error.message }));
  } finally {
    await t.stop();
  }
  return out;
}

async function scrape(ctx, base, encoding) {
  return ctx.expectOk(`${base}/metrics`, { headers: { "accept-encoding": encoding }, timeoutMs: 600_000 }, `scrape (${encoding})`);
}

async function measureLevel(ctx, t, series, { repeats, exportRepeats, receiver, top }) {
  const lv = { series };
  const step = async (key, fn) => {
    try {
      lv[key] = await fn();
    } catch (error) {
      lv.errors = { ...(lv.errors ?? {}), [key]: error.stack ?? String(error) };
      ctx.log(`scale ${t.kind} ${series}: ${key} FAILED: ${error.message}`);
    }
  };
  await step("scrapeCheck", async () => {
    const warm = await scrape(ctx, t.base, "identity");
    const found = countLines(warm.body, "scale_");
    if (found !== series) ctx.log(`scale ${t.kind}: the scrape holds ${found.toLocaleString("en-US")} of ${series.toLocaleString("en-US")} series`);
    return { bytes: warm.bytes, seriesFound: found, complete: found === series };
  });
  for (const encoding of ["identity", "gzip"]) {
    await step(`scrape_${encoding}`, async () => {
      const runs = [];
      for (let i = 0; i < repeats; i++) {
        const m = await t.measure(() => scrape(ctx, t.base, encoding));
        runs.push({ ...m, value: undefined, bytes: m.value.bytes, contentEncoding: m.value.headers["content-encoding"] ?? "identity" });
      }
      return runs;
    });
  }
  if (t.insp) {
    // The live heap: a full GC before every sample (its own run: the GCs slow the scrape down).
    await step("scrapeLive", async () => {
      const m = await t.measure(() => scrape(ctx, t.base, "gzip"), { live: true });
      return { ...m, value: undefined, bytes: m.value.bytes };
    });
  }
  if (t.gateway) {
    await step("export", async () => {
      const runs = [];
      for (let i = 0; i < exportRepeats; i++) runs.push(await exportOnce(ctx, t, receiver, series));
      return runs;
    });
    if (t.insp) await step("exportLive", () => exportOnce(ctx, t, receiver, series, { live: true }));
    if (top && t.insp) {
      // One more export with V8's CPU profiler on the Worker's isolate (not timed with the others:
      // profiling slows it down): how much of the Worker process's CPU is the Worker's own JS.
      await step("exportProfile", async () => {
        receiver.reset();
        const cpu0 = procCpuSeconds(t.workerPid);
        const p = await cpuProfile(t.insp, () => ctx.expectOk(`${t.base}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`, { timeoutMs: 900_000 }, "scheduled"));
        return { ms: p.ms, samples: p.samples, wallMs: p.wallMs, workerCpuSeconds: procCpuSeconds(t.workerPid) - cpu0, receiver: receiver.summary() };
      });
    }
  }
  return lv;
}

async function exportOnce(ctx, t, receiver, series, options) {
  receiver.reset();
  const m = await t.measure(() => ctx.expectOk(`${t.base}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`, { timeoutMs: 900_000 }, "scheduled (export)"), options);
  const got = receiver.summary();
  // Every stored series is one sample (scalars here), plus push times and the gateway's own metrics.
  const complete = got.samples >= series && got.problems.length === 0;
  if (!complete) ctx.log(`scale ${t.kind}: the export sent ${got.samples.toLocaleString("en-US")} samples for ${series.toLocaleString("en-US")} series${got.problems.length ? ` (${got.problems.join("; ")})` : ""}`);
  return { ...m, value: undefined, status: m.value.status, receiver: got, complete };
}

async function put100k(ctx, t, repeats) {
  const body = ctx.bigBody("put100k", 1000, 100);
  const runs = [];
  for (let i = 0; i < repeats; i++) {
    const group = `${t.base}/metrics/job/put100k/run/r${i}`;
    const r = await ctx.expectOk(group, { method: "PUT", headers: { "content-type": ctx.TEXT_CT }, body, timeoutMs: 600_000 }, "PUT 100k at scale");
    runs.push(r.ms / 1000);
    await ctx.expectOk(group, { method: "DELETE", timeoutMs: 600_000 }, "DELETE 100k group");
  }
  return { seconds: median(runs), runs, bodyBytes: body.length };
}

// ---------------------------------------------------------------- report

const pick = (runs, f) => (runs ?? []).map(f).filter(Number.isFinite);

/** Table rows: [figure, single, split, Pushgateway, ratio, target, met]. */
export function rows(result) {
  const out = [];
  if (result === undefined) return out;
  const { single, split, pushgateway: pg } = result.targets;
  const lv = (t, level) => t?.levels?.[level];
  const top = result.levels[result.levels.length - 1];
  const ratio = (theirs, ours) => (Number.isFinite(theirs) && Number.isFinite(ours) ? fmt.ratio(theirs / ours) : "");
  const heapMet = (values) => (values.length === 0 ? "-" : Math.max(...values) < HEAP_TARGET ? "met" : "MISSED");
  out.push([
    `(g) push of ${fmt.int(result.series)} series (${fmt.int(result.series / SERIES_PER_GROUP)} PUTs of 10k), total`,
    fmt.s(sum(single?.pushSeconds)),
    fmt.s(sum(split?.pushSeconds)),
    fmt.s(sum(pg?.pushSeconds)),
    ratio(sum(pg?.pushSeconds), sum(single?.pushSeconds)),
    "",
    "",
  ]);
  for (const level of result.levels) {
    const n = fmt.int(level);
    const complete = (t) => {
      const c = lv(t, level)?.scrapeCheck;
      return c === undefined ? "-" : c.complete ? "all" : `${fmt.int(c.seriesFound)} only`;
    };
    out.push([`(g) ${n}: series in the scrape`, complete(single), complete(split), complete(pg), "", `all ${n}`, [single, split, pg].every((t) => t === undefined || lv(t, level)?.scrapeCheck?.complete) ? "met" : "MISSED"]);
    for (const encoding of ["identity", "gzip"]) {
      const s = (t) => pick(lv(t, level)?.[`scrape_${encoding}`], (r) => r.seconds);
      out.push([`(g) ${n}: scrape, ${encoding}: time`, spread(s(single), fmt.s), spread(s(split), fmt.s), spread(s(pg), fmt.s), ratio(median(s(pg)), median(s(single))), "", ""]);
      if (encoding === "gzip") {
        const b = (t) => pick(lv(t, level)?.scrape_gzip, (r) => r.bytes);
        out.push([`(g) ${n}: scrape, gzip: bytes on the wire`, spread(b(single), fmt.mb), spread(b(split), fmt.mb), spread(b(pg), fmt.mb), ratio(median(b(pg)), median(b(single))), "", ""]);
      }
      const heap = pick(lv(split, level)?.[`scrape_${encoding}`], (r) => r.heap?.peakUsedBytes);
      out.push([`(g) ${n}: scrape, ${encoding}: Worker peak heap (used, incl. garbage)`, "", spread(heap, fmt.mb), "", "", "< 64 MB", heapMet(heap)]);
    }
    const live = lv(split, level)?.scrapeLive?.heap;
    if (live) out.push([`(g) ${n}: scrape, gzip: Worker peak live heap (GC before each sample)`, "", `${fmt.mb(live.peakUsedBytes)} (${live.samples} samples)`, "", "", "< 64 MB", heapMet([live.peakUsedBytes])]);
    const scrapeCpu = pick(lv(split, level)?.scrape_gzip, (r) => r.workerCpuSeconds);
    if (scrapeCpu.length) out.push([`(g) ${n}: scrape, gzip: Worker process CPU`, "", spread(scrapeCpu, fmt.s), "", "", "", ""]);
    if (single || split) {
      const e = (t) => pick(lv(t, level)?.export, (r) => r.seconds);
      out.push([`(g) ${n}: remote-write export: wall time`, spread(e(single), fmt.s), spread(e(split), fmt.s), "n/a", "", "", ""]);
      const heap = pick(lv(split, level)?.export, (r) => r.heap?.peakUsedBytes);
      out.push([`(g) ${n}: export: Worker peak heap (used, incl. garbage)`, "", spread(heap, fmt.mb), "", "", "< 64 MB", heapMet(heap)]);
      const liveE = lv(split, level)?.exportLive?.heap;
      if (liveE) out.push([`(g) ${n}: export: Worker peak live heap (GC before each sample)`, "", `${fmt.mb(liveE.peakUsedBytes)} (${liveE.samples} samples)`, "", "", "< 64 MB", heapMet([liveE.peakUsedBytes])]);
      const cpu = pick(lv(split, level)?.export, (r) => r.workerCpuSeconds);
      out.push([`(g) ${n}: export: Worker process CPU`, "", spread(cpu, fmt.s), "", "", "", ""]);
      const shardsCpu = pick(lv(split, level)?.export, (r) => r.shardsCpuSeconds);
      out.push([`(g) ${n}: export: shards process CPU`, "", spread(shardsCpu, fmt.s), "", "", "", ""]);
      const ok = (t) => {
        const runs = lv(t, level)?.export;
        if (runs === undefined) return "-";
        return runs.every((r) => r.complete) ? `yes (${fmt.int(runs[0].receiver.samples)} samples, ${fmt.int(runs[0].receiver.requests)} requests)` : `NO (${runs.map((r) => fmt.int(r.receiver.samples)).join(", ")} samples)`;
      };
      out.push([`(g) ${n}: export delivered every series`, ok(single), ok(split), "", "", "yes", [single, split].every((t) => t === undefined || (lv(t, level)?.export ?? []).every((r) => r.complete)) ? "met" : "MISSED"]);
    }
  }
  const prof = lv(split, top)?.exportProfile;
  if (prof) {
    out.push([
      `(g) ${fmt.int(top)}: export under V8's CPU profiler: Worker JS + GC CPU`,
      "",
      `${fmt.s((prof.ms.js + prof.ms.gc) / 1000)} of ${fmt.s(prof.wallMs / 1000)} wall (process ${fmt.s(prof.workerCpuSeconds)})`,
      "",
      "",
      "",
      "",
    ]);
  }
  const p = (t) => t?.put100k?.runs;
  out.push([
    `(g) PUT of 100k series with ${fmt.int(top)} held (fresh group)`,
    spread(p(single), fmt.s),
    spread(p(split), fmt.s),
    spread(p(pg), fmt.s),
    ratio(median(p(pg) ?? []), median(p(single) ?? [])),
    ">= 1.0x PGW",
    Number.isFinite(median(p(pg) ?? [])) && Number.isFinite(median(p(single) ?? [])) ? (median(p(pg)) / median(p(single)) >= 1 ? "met" : "MISSED") : "-",
  ]);
  out.push([
    `(g) memory at ${fmt.int(top)}: RSS / heap`,
    single?.memory?.heap ? `${fmt.mb(single.memory.rssBytes)} / ${fmt.mb(single.memory.heap.usedBytes)}` : "-",
    split?.memory?.workerHeap ? `Worker ${fmt.mb(split.memory.workerRssBytes)} / ${fmt.mb(split.memory.workerHeap.usedBytes)}; shards RSS ${fmt.mb(split.memory.shardsRssBytes)}` : "-",
    pg?.memory?.heap ? `${fmt.mb(pg.memory.rssBytes)} / ${fmt.mb(pg.memory.heap.usedBytes)}` : "-",
    "",
    "",
    "",
  ]);
  return out;
}

function sum(xs) {
  return xs === undefined || xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0);
}

/** The export's CPU and wall figures at the top level, and a `limits.cpu_ms` to suggest. */
export function cpuSuggestion(result) {
  const top = result?.levels?.[result.levels.length - 1];
  const runs = result?.targets?.split?.levels?.[top]?.export;
  if (!runs || runs.length === 0) return undefined;
  const cpu = Math.max(...runs.map((r) => r.workerCpuSeconds));
  const wall = Math.max(...runs.map((r) => r.seconds));
  const prof = result.targets.split.levels[top].exportProfile;
  // 3x the worst Worker-process CPU measured here (a production isolate is not slowed by a second
  // process on 2 shared cores, but it may be an older, slower machine), rounded up to 10 s, at
  // least the default 30 s, at most the 300 s Cloudflare allows.
  const suggested = Math.min(300_000, Math.max(30_000, Math.ceil((cpu * 3) / 10) * 10_000));
  return { series: top, workerCpuSecondsMax: cpu, wallSecondsMax: wall, profiledJsGcSeconds: prof ? (prof.ms.js + prof.ms.gc) / 1000 : undefined, suggestedCpuMs: suggested };
}
