// Rows written and Durable Object requests per write, and the monthly cost of three usage profiles.
// See bench/README.md ("rows: rows written and cost").
//
// One bare Miniflare instance (SHARDS as wrangler.toml says) running the counting build of the gateway
// (bench/instrument/gateway.ts: the working tree's gateway plus counters of SQL rows written and Durable
// Object calls, per class), the sibling Worker next to it, and a remote-write receiver. Every figure is
// a difference of the counters around one step; the gateway's self-metrics
// (`metrics_gateway_storage_rows_written_total`, `metrics_gateway_write_calls_total`) are read too, and
// the shards' rows are checked against them.
import { closedLoop } from "./lib/drive.mjs";
import { startReceiver } from "./lib/receiver.mjs";
import { fmt, median } from "./lib/table.mjs";

const SERIES_10K = { families: 100, perFamily: 100 };
export const MONTH_S = 30 * 86_400;
export const PRICES = { rowsIncluded: 50e6, perMillionRows: 1.0, requestsIncluded: 1e6, perMillionRequests: 0.15 };

/** 10k series (100 families x 100) whose values change with `round` (a job pushing fresh values). */
function body10k(prefix, round) {
  const codes = ["200", "404", "500"];
  const parts = [];
  for (let f = 0; f < SERIES_10K.families; f++) {
    const counter = f % 2 === 0;
    const name = counter ? `${prefix}_f${f}_total` : `${prefix}_g${f}`;
    const lines = [`# HELP ${name} Rows family ${f}.`, `# TYPE ${name} ${counter ? "counter" : "gauge"}`];
    for (let i = 0; i < SERIES_10K.perFamily; i++) {
      const host = `host="host-${i % 20}"`;
      const path = `path="/api/v1/items/${f * SERIES_10K.perFamily + i}"`;
      lines.push(counter ? `${name}{code="${codes[i % 3]}",${host},${path}} ${1000 * round + i}` : `${name}{${host},${path}} ${round + i / 8}`);
    }
    parts.push(lines.join("\n"));
  }
  return Buffer.from(`${parts.join("\n")}\n`);
}

export async function run(ctx) {
  const receiver = await startReceiver();
  const [port, siblingPort] = [await ctx.freePort(), await ctx.freePort()];
  const shards = Number(ctx.VARS.SHARDS ?? "1");
  const inst = await ctx.startMiniflare("rows", {
    port,
    unsafeTriggerHandlers: true,
    durableObjectsPersist: ctx.tempDir("rows"),
    workers: [
      ctx.instrumentedGateway({ ...ctx.VARS, MAX_BODY_BYTES: String(32 * 1024 * 1024), SECRET_PROM_ENDPOINT: receiver.url }),
      {
        name: "bench-sibling",
        modules: true,
        scriptPath: ctx.SIBLING_BUNDLE,
        modulesRoot: ctx.SIBLING_DIR,
        compatibilityDate: ctx.COMPAT_DATE,
        serviceBindings: { METRICS: { name: "metrics-gateway" } },
        unsafeDirectSockets: [{ host: "127.0.0.1", port: siblingPort }],
      },
    ],
  });
  const base = `http://127.0.0.1:${port}`;
  const sibling = `http://127.0.0.1:${siblingPort}`;
  const out = { shards, steps: {}, errors: {} };
  try {
    await ctx.waitHealthy(`${base}/-/ready`, "rows gateway");
    await ctx.waitHealthy(`${sibling}/-/healthy`, "rows sibling");
    const meter = new Meter(ctx, base);
    await meter.mark();
    const step = async (key, fn) => {
      ctx.log(`rows: ${key}`);
      try {
        out.steps[key] = await fn();
      } catch (error) {
        out.errors[key] = error.stack ?? String(error);
        ctx.log(`rows: ${key} FAILED: ${error.message}`);
      }
    };
    const push = async (url, method, body, what) => {
      await ctx.expectOk(url, { method, headers: { "content-type": ctx.TEXT_CT }, body }, what);
      return meter.mark();
    };

    // (i) Pushgateway group, 10k series: first push, then the same series again (fresh values).
    await step("put10k", async () => {
      const pushes = [];
      for (let round = 0; round < 4; round++) pushes.push(await push(`${base}/metrics/job/rows/instance/a`, "PUT", body10k("rows_put", round), "PUT 10k"));
      return { series: 10_000, first: pushes[0], repeated: pushes.slice(1) };
    });
    // (ii) POST /metrics (ungrouped, aggregated), 10k series: writes rotate over the shards, so the
    // first SHARDS pushes each meet a shard that does not hold the series yet.
    await step("post10k", async () => {
      const pushes = [];
      for (let round = 0; round < shards + 2; round++) pushes.push(await push(`${base}/metrics`, "POST", body10k("rows_post", round), "POST 10k"));
      return { series: 10_000, pushes, first: pushes[0], newShard: pushes.slice(1, shards), repeated: pushes.slice(shards) };
    });
    // (iii), (iv): 1,000 RPC incs (through the sibling), over 10 and over 10,000 series; each set
    // twice (the first meets new series, the second the same series again), one caller at a time
    // (every inc its own batch) and 50 at a time (group commit folds them).
    for (const [key, space, seriesOf] of [
      ["inc10", 10, (i) => i % 10],
      ["inc10k", 10_000, (i) => (i * 7919) % 10_000],
    ]) {
      for (const concurrency of [1, 50]) {
        await step(`${key}_c${concurrency}`, async () => {
          const name = `bench_rows_${key}_c${concurrency}_total`;
          const distinct = new Set(Array.from({ length: 1000 }, (_, i) => seriesOf(i))).size;
          const phases = [];
          for (const phase of ["first", "again"]) {
            const load = await closedLoop(1000, concurrency, (i) => ({ url: `${sibling}/inc-series?name=${name}&s=${seriesOf(i)}` }));
            if (load.ok !== 1000) throw new Error(`${load.ok} of 1000 incs answered 2xx: ${JSON.stringify(load.statuses)} ${load.failures.join("; ")}`);
            phases.push({ phase, seconds: load.seconds, ...(await meter.mark()) });
          }
          return { increments: 1000, seriesSpace: space, distinctSeries: distinct, concurrency, first: phases[0], again: phases[1] };
        });
      }
    }
    // (v) the batching helper: 5 incs of 5 distinct series (of 50) per request; first all 50
    // series once (so the figure is the steady state), then N requests at 50 and at 1 caller.
    for (const [concurrency, requests] of [
      [50, 2000],
      [1, 500],
    ]) {
      await step(`batched5_c${concurrency}`, async () => {
        const name = `bench_rows_b5_c${concurrency}_total`;
        const warm = await closedLoop(10, 1, (i) => ({ url: `${sibling}/batched5?name=${name}&i=${i}&of=50` }));
        if (warm.ok !== 10) throw new Error(`warm-up: ${JSON.stringify(warm.statuses)} ${warm.failures.join("; ")}`);
        await meter.mark();
        const load = await closedLoop(requests, concurrency, (i) => ({ url: `${sibling}/batched5?name=${name}&i=${i}&of=50` }));
        if (load.ok !== requests) throw new Error(`${load.ok} of ${requests} requests answered 2xx: ${JSON.stringify(load.statuses)} ${load.failures.join("; ")}`);
        return { requestsSent: requests, incrementsPerRequest: 5, seriesSpace: 50, concurrency, seconds: load.seconds, ...(await meter.mark()) };
      });
    }
    // Reads: a scrape and an export run (to the receiver) of what the steps above left.
    await step("reads", async () => {
      const scrape = await ctx.expectOk(`${base}/metrics`, { headers: { "accept-encoding": "identity" } }, "scrape");
      const s = await meter.mark();
      receiver.reset();
      await ctx.expectOk(`${base}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`, { timeoutMs: 300_000 }, "scheduled (export)");
      const e = await meter.mark();
      return { series: ctx.sampleSum(scrape.body.toString("utf8"), "metrics_gateway_series"), scrape: s, export: { ...e, receiver: receiver.summary() } };
    });
    out.checks = meter.checks;
  } finally {
    await inst.dispose();
    await receiver.close();
  }
  out.costs = costs(out);
  return out;
}

/**
 * Counters around steps. `mark()` answers the difference since the previous mark: rows written
 * (per class, and the shards' self-metric), Durable Object requests (per class and method) and
 * write calls (self-metric). Reading the self-metrics is a scrape, which is itself Durable Object
 * requests: the counters are read before and after it, and only what happened between the
 * previous mark's second reading and this mark's first is the step's.
 */
class Meter {
  #ctx;
  #base;
  #last;
  checks = [];

  constructor(ctx, base) {
    this.#ctx = ctx;
    this.#base = base;
  }

  async #counters() {
    return JSON.parse((await this.#ctx.expectOk(`${this.#base}/__bench/counters`, {}, "bench counters")).body.toString("utf8"));
  }

  async mark() {
    const before = await this.#counters();
    const text = (await this.#ctx.expectOk(`${this.#base}/metrics`, { headers: { "accept-encoding": "identity" } }, "self-metrics")).body.toString("utf8");
    const after = await this.#counters();
    const self = {
      rows: this.#ctx.sampleSum(text, "metrics_gateway_storage_rows_written_total") ?? NaN,
      writeCalls: this.#ctx.sampleSum(text, "metrics_gateway_write_calls_total") ?? NaN,
    };
    const last = this.#last;
    this.#last = { after, self };
    if (last === undefined) return undefined;
    const diff = (a, b) => {
      const out = {};
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const d = (a[k] ?? 0) - (b[k] ?? 0);
        if (d !== 0) out[k] = d;
      }
      return out;
    };
    const rowsBy = diff(before.rows, last.after.rows);
    const tables = diff(before.tables, last.after.tables);
    const callsBy = diff(before.calls, last.after.calls);
    const rows = Object.values(rowsBy).reduce((a, b) => a + b, 0);
    const requests = Object.values(callsBy).reduce((a, b) => a + b, 0);
    const selfRows = self.rows - last.self.rows;
    // The self-metric counts the shards' rows, and the scrape that reads it writes none.
    this.checks.push({ shardRows: rowsBy.aggregator ?? 0, selfMetricRows: selfRows, agree: (rowsBy.aggregator ?? 0) === selfRows });
    // Rows holding series values (packed chunks, single-series rows): what "one row per series" is about.
    const dataRows = (tables["aggregator.chunks"] ?? 0) + (tables["aggregator.series"] ?? 0);
    return { rows, rowsBy, tables, dataRows, requests, requestsBy: callsBy, selfMetricRows: selfRows, writeCalls: self.writeCalls - last.self.writeCalls };
  }
}

/** The three usage profiles' monthly cost, with the arithmetic spelled out. */
export function costs(out) {
  const s = out.steps;
  const cost = (rows, requests) => {
    const rowCost = (Math.max(0, rows - PRICES.rowsIncluded) / 1e6) * PRICES.perMillionRows;
    const requestCost = (Math.max(0, requests - PRICES.requestsIncluded) / 1e6) * PRICES.perMillionRequests;
    return { rows, requests, rowCost, requestCost, total: rowCost + requestCost };
  };
  const result = { monthSeconds: MONTH_S, prices: PRICES, profiles: {} };
  // P1: a job PUTs 10,000 series every 15 s: the repeated PUT's rows and requests.
  const rep = s.put10k?.repeated;
  let p1;
  if (rep?.length) {
    const rowsPerPush = median(rep.map((m) => m.rows));
    const reqPerPush = median(rep.map((m) => m.requests));
    const pushes = MONTH_S / 15;
    p1 = { pushesPerMonth: pushes, rowsPerPush, requestsPerPush: reqPerPush, ...cost(pushes * rowsPerPush, pushes * reqPerPush) };
    p1.arithmetic = [
      `pushes/month = ${fmt.int(MONTH_S)} s / 15 s = ${fmt.int(pushes)}`,
      `rows/month = ${fmt.int(pushes)} x ${fmt.num(rowsPerPush, 1)} rows per push = ${fmt.int(p1.rows)}; beyond 50M: ${fmt.int(Math.max(0, p1.rows - 50e6))} x $1.00/M = ${fmt.usd(p1.rowCost)}`,
      `DO requests/month = ${fmt.int(pushes)} x ${fmt.num(reqPerPush, 1)} per push = ${fmt.int(p1.requests)}; beyond 1M: ${fmt.int(Math.max(0, p1.requests - 1e6))} x $0.15/M = ${fmt.usd(p1.requestCost)}`,
      `total ${fmt.usd(p1.total)}/month`,
    ];
    result.profiles.P1 = p1;
  }
  // P2: 1,000 requests/s, 5 increments each, batching helper: measured at 50 concurrent callers
  // (group commit folds requests) and at 1 (no folding across requests: the worst case).
  const p2 = {};
  for (const [variant, key] of [
    ["measured, 50 concurrent callers", "batched5_c50"],
    ["worst case, every request its own batch", "batched5_c1"],
  ]) {
    const m = s[key];
    if (m === undefined) continue;
    const reqs = 1000 * MONTH_S;
    const rowsPer = m.rows / m.requestsSent;
    const doPer = m.requests / m.requestsSent;
    const c = cost(reqs * rowsPer, reqs * doPer);
    p2[variant] = {
      workerRequestsPerMonth: reqs,
      rowsPerRequest: rowsPer,
      doRequestsPerRequest: doPer,
      ...c,
      arithmetic: [
        `Worker requests/month = 1,000/s x ${fmt.int(MONTH_S)} s = ${fmt.int(reqs)} (5 increments each: ${fmt.int(reqs * 5)} increments)`,
        `rows/month = ${fmt.int(reqs)} x ${rowsPer.toFixed(4)} rows per request = ${fmt.int(c.rows)}; beyond 50M: ${fmt.int(Math.max(0, c.rows - 50e6))} x $1.00/M = ${fmt.usd(c.rowCost)}`,
        `DO requests/month = ${fmt.int(reqs)} x ${doPer.toFixed(4)} per request = ${fmt.int(c.requests)}; beyond 1M: ${fmt.int(Math.max(0, c.requests - 1e6))} x $0.15/M = ${fmt.usd(c.requestCost)}`,
        `total ${fmt.usd(c.total)}/month`,
      ],
    };
  }
  if (Object.keys(p2).length) result.profiles.P2 = p2;
  // P3: both at once (the free allowances count once).
  if (p1 && Object.keys(p2).length) {
    const p3 = {};
    for (const [variant, v] of Object.entries(p2)) {
      const c = cost(p1.rows + v.rows, p1.requests + v.requests);
      p3[variant] = {
        ...c,
        arithmetic: [
          `rows/month = ${fmt.int(p1.rows)} (P1) + ${fmt.int(v.rows)} (P2) = ${fmt.int(c.rows)}; beyond 50M: ${fmt.usd(c.rowCost)}`,
          `DO requests/month = ${fmt.int(p1.requests)} + ${fmt.int(v.requests)} = ${fmt.int(c.requests)}; beyond 1M: ${fmt.usd(c.requestCost)}`,
          `total ${fmt.usd(c.total)}/month`,
        ],
      };
    }
    result.profiles.P3 = p3;
  }
  return result;
}

/** "chunks 20, families 100" from a mark's rows per table. */
function byTable(m) {
  return Object.entries(m.tables ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k.replace("aggregator.", "").replace("registry.", "registry ")} ${fmt.int(v)}`)
    .join(", ");
}

/** Table rows: [figure, rows, per unit, by table, DO requests, goal, met]. */
export function rows(out) {
  if (out === undefined) return [];
  const s = out.steps;
  const lines = [];
  const push = (label, m, n, goal, met) => {
    if (m === undefined) return;
    lines.push([label, fmt.int(m.rows), `${fmt.num((m.rows / n) * 1000, 1)} /1k series`, byTable(m), fmt.int(m.requests), goal ?? "", met === undefined ? "" : met ? "met" : "MISSED"]);
  };
  if (s.put10k) {
    push("(i) PUT 10k series to a group: first push", s.put10k.first, 10_000, "<= 50 rows", s.put10k.first.rows <= 50);
    s.put10k.repeated.forEach((m, i) => push(`(i) PUT 10k: the same series again (#${i + 2})`, m, 10_000, "<= 50 rows", m.rows <= 50));
  }
  if (s.post10k) {
    s.post10k.pushes.forEach((m, i) =>
      push(`(ii) POST /metrics 10k series #${i + 1}${i === 0 ? " (first)" : i < out.shards ? " (a shard new to them)" : " (a shard holding them)"}`, m, 10_000, "<= 50 rows", m.rows <= 50),
    );
  }
  for (const [key, label] of [
    ["inc10", "(iii) 1,000 RPC incs over 10 series"],
    ["inc10k", "(iv) 1,000 RPC incs over 10,000 series"],
  ]) {
    for (const c of [1, 50]) {
      const m = s[`${key}_c${c}`];
      if (m === undefined) continue;
      for (const phase of ["first", "again"]) {
        const x = m[phase];
        // Goal: at most one row per distinct series per batch, judged on the rows that hold series
        // values (chunks, single-series rows); a family's first write on a shard and the registry's
        // rows for new names come on top (shown by table). With one caller every inc is its own
        // batch; with 50, a batch is one write call and holds at most every distinct series.
        const bound = Math.min(1000, x.writeCalls * m.distinctSeries);
        lines.push([
          `${label}, ${c} caller${c > 1 ? "s" : ""}, ${phase === "first" ? "new series" : "same series again"}`,
          fmt.int(x.rows),
          `${fmt.num(x.rows / 1000, 3)} per inc`,
          byTable(x),
          `${fmt.int(x.requests)} (${fmt.int(x.writeCalls)} write calls)`,
          `data rows <= ${fmt.int(bound)}`,
          x.dataRows <= bound ? "met" : "MISSED",
        ]);
      }
    }
  }
  for (const c of [50, 1]) {
    const m = s[`batched5_c${c}`];
    if (m === undefined) continue;
    const bound = Math.min(m.requestsSent * 5, m.writeCalls * 50);
    lines.push([
      `(v) batching helper: ${fmt.int(m.requestsSent)} requests of 5 incs (5 of 50 series), ${c} caller${c > 1 ? "s" : ""}`,
      fmt.int(m.rows),
      `${fmt.num(m.rows / m.requestsSent, 3)} per request`,
      byTable(m),
      `${fmt.int(m.requests)} (${fmt.num(m.requests / m.requestsSent, 3)} per request)`,
      `data rows <= ${fmt.int(bound)}`,
      m.dataRows <= bound ? "met" : "MISSED",
    ]);
  }
  if (s.reads) {
    lines.push([`a scrape of ${fmt.int(s.reads.series)} series`, fmt.int(s.reads.scrape.rows), "", byTable(s.reads.scrape), fmt.int(s.reads.scrape.requests), "", ""]);
    lines.push([`an export run of them (${fmt.int(s.reads.export.receiver.samples)} samples)`, fmt.int(s.reads.export.rows), "", byTable(s.reads.export), fmt.int(s.reads.export.requests), "", ""]);
  }
  if (out.checks) lines.push(["shards' rows counted = metrics_gateway_storage_rows_written_total delta", out.checks.every((c) => c.agree) ? "yes, every step" : "NO", "", "", "", "", ""]);
  return lines;
}
