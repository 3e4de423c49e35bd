// `npm run bench`: metrics-gateway side by side with the Prometheus Pushgateway (issue 5's
// acceptance benchmark). See bench/README.md for what each scenario measures.
//
// Usage: node bench/run.mjs [--duration S] [--only bare,dev,pushgateway,rows,scale,lifecycle] [--skip-micro]
//                           [--scale-series N] [--scale-targets pushgateway,single,split] [--scale-repeats N]
//
// Starts, each on 127.0.0.1 on a free port with fresh temp state:
//   bare        the gateway in a bare Miniflare instance (workerd, no dev proxy), plus the sibling
//               Worker (bench/sibling) with a service binding to it, on its own socket;
//   dev         the gateway through `wrangler dev` (scenarios a-d, f), then, for scenario e, a second
//               `wrangler dev -c bench/sibling/wrangler.toml -c wrangler.toml` serving the sibling;
//   pushgateway /usr/bin/prometheus-pushgateway (Debian's 1.5.1), in memory, no persistence file.
// Then the sections that have their own servers (each alone on the machine):
//   rows        rows written and Durable Object requests per write, and the monthly cost of three
//               usage profiles (bench/rows.mjs);
//   scale       scenario g: 1,000,000 series over 8 shards, scrapes, exports, the Worker's peak heap
//               (bench/scale.mjs);
//   lifecycle   scenario h: sweeping 100k expired series, writes meanwhile, cumulative sources' heap
//               (bench/lifecycle.mjs).
// Drives them with autocannon, prints a table, writes bench/out/results.json. Exits 0 when every
// scenario ran (targets missed included), 1 when something could not run.

import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { buildSync } from "esbuild";
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { dirname } from "node:path";
import * as rowsSection from "./rows.mjs";
import * as scaleSection from "./scale.mjs";
import * as lifecycleSection from "./lifecycle.mjs";
import { compareWithReadme } from "./reference.mjs";
import { printTable as printSection, fmt as fmt2 } from "./lib/table.mjs";

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
const PUSHGATEWAY = "/usr/bin/prometheus-pushgateway";

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const DURATION_S = Number(option("--duration", "10"));
const ONLY = new Set(option("--only", "bare,dev,pushgateway,rows,scale,lifecycle").split(","));
const SKIP_MICRO = flag("--skip-micro");
const SCALE_SERIES = Number(option("--scale-series", "1000000"));
const SCALE_TARGETS = option("--scale-targets", "pushgateway,single,split").split(",");
const SCALE_REPEATS = Number(option("--scale-repeats", "3"));

/** Scenario sizes. */
const PUSH_CONNECTIONS = 16;
const RPC_CONNECTIONS = 50;
const WARMUP_S = 2;
const PRELOAD = { families: 1100, perFamily: 100 }; // 110,000 series
const PUT_SIZES = [
  { label: "10k", families: 100, perFamily: 100 },
  { label: "100k", families: 1000, perFamily: 100 },
];
const REPEATS = 3;
/** Scrapes repeated for (d): one garbage collection in a run moves a median of three by 30 ms or more. */
const SCRAPE_REPEATS = 7;
/** PUTs repeated for (c), on either side: a median of three moved the 100k ratio by 10% from run to run. */
const PUT_REPEATS = 7;
const MAX_BODY_BYTES = 32 * 1024 * 1024; // the 110k-series body is ~8 MB; the default limit is 10 MiB
// (c) may hash to the shard that holds the 110k preload: 210k series in one shard, over the default
// MAX_SERIES (150,000 per shard). 210k series of these label sets still fit one 32 MiB RPC value.
const MAX_SERIES = 400_000;

const wranglerToml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
const COMPAT_DATE = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(wranglerToml)?.[1];
const VARS = tomlVars(wranglerToml);
const SHARDS = VARS.SHARDS ?? "1";

/** The `[vars]` table of wrangler.toml (string values only, as this project has). */
function tomlVars(text) {
  const vars = {};
  let inVars = false;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t.startsWith("[")) inVars = t === "[vars]";
    else if (inVars) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"/.exec(t);
      if (m) vars[m[1]] = m[2];
    }
  }
  return vars;
}

// ---------------------------------------------------------------- processes and cleanup

/** Everything started, for cleanup: { name, pid } process groups, Miniflare instances, temp dirs. */
const started = { groups: [], miniflares: [], dirs: [] };
let cleaning;

function log(...args) {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);
}

async function killGroup(entry) {
  const { pid, name } = entry;
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  try {
    process.kill(-pid, "SIGTERM");
  } catch {}
  for (let i = 0; i < 50 && alive(); i++) await sleep(100);
  if (alive()) {
    log(`${name}: still running after SIGTERM, SIGKILL to its process group`);
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
}

async function stopGroup(entry) {
  await killGroup(entry);
  started.groups = started.groups.filter((e) => e !== entry);
}

function cleanup() {
  cleaning ??= (async () => {
    for (const mf of started.miniflares.splice(0)) {
      try {
        await Promise.race([mf.dispose(), sleep(10_000)]);
      } catch {}
    }
    for (const entry of started.groups.splice(0)) await killGroup(entry);
    for (const pid of stray.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    for (const dir of started.dirs.splice(0)) {
      for (let attempt = 0; ; attempt++) {
        try {
          rmSync(dir, { recursive: true, force: true });
          break;
        } catch (error) {
          if (attempt >= 5) {
            log(`could not remove ${dir}: ${error.message}`);
            break;
          }
          await sleep(200);
        }
      }
    }
  })().catch((error) => log(`cleanup: ${error.stack ?? error}`));
  return cleaning;
}

/** workerd processes of bare Miniflare (children of this process), killed on exit if dispose failed. */
const stray = [];

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    log(`${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}
// Last resort, synchronous: Miniflare installs its own SIGINT/SIGTERM handlers that call
// process.exit() at once, so the async cleanup above may not get to finish.
process.on("exit", () => {
  for (const { pid } of started.groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
  for (const pid of stray) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  for (const dir of started.dirs) {
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        rmSync(dir, { recursive: true, force: true });
        break;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // killed processes may still be writing
      }
    }
  }
});

function tempDir(prefix) {
  const dir = mkdtempSync(join(os.tmpdir(), `mg-bench-${prefix}-`));
  started.dirs.push(dir);
  return dir;
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a command in its own process group (so the whole tree can be killed), output to a log file. */
function startGroup(name, command, args, env = {}) {
  mkdirSync(OUT, { recursive: true });
  const logFile = join(OUT, `${name}.log`);
  const fd = openSync(logFile, "w");
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", fd, fd],
    env: { ...process.env, ...env },
  });
  closeSync(fd);
  const entry = { name, pid: child.pid, child, logFile, exited: false };
  child.on("exit", (code, signal) => {
    entry.exited = true;
    entry.exitInfo = signal ?? code;
  });
  started.groups.push(entry);
  return entry;
}

async function waitHealthy(url, what, entry, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (entry?.exited) throw new Error(`${what} exited (${entry.exitInfo}) before it was healthy; see ${entry.logFile}`);
    try {
      const r = await httpRequest(url, { timeoutMs: 5_000 });
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (error) {
      last = error.message;
    }
    await sleep(200);
  }
  throw new Error(`${what}: ${url} not healthy within ${timeoutMs / 1000} s (${last})${entry ? `; see ${entry.logFile}` : ""}`);
}

// ---------------------------------------------------------------- /proc

function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const fields = text.slice(close + 2).split(" ");
    return { pid, comm, ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

function allProcs() {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map((d) => procStat(Number(d)))
    .filter(Boolean);
}

function descendants(root) {
  const procs = allProcs();
  const out = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift();
    for (const c of procs) {
      if (c.ppid === p) {
        out.push(c);
        queue.push(c.pid);
      }
    }
  }
  return out;
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

// ---------------------------------------------------------------- HTTP

/** One request over a fresh connection; `bytes` counts the body as it came on the wire (no decompression). */
function httpRequest(url, { method = "GET", headers = {}, body, timeoutMs = 180_000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const h = { ...headers };
    if (payload !== undefined) h["content-length"] = String(payload.length);
    const t0 = performance.now();
    const req = http.request(url, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      let bytes = 0;
      res.on("data", (c) => {
        chunks.push(c);
        bytes += c.length;
      });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, bytes, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end(payload);
  });
}

async function expectOk(url, options, what) {
  const r = await httpRequest(url, options);
  if (r.status < 200 || r.status > 299) throw new Error(`${what}: HTTP ${r.status} ${r.body.toString("utf8").slice(0, 300)}`);
  return r;
}

/** Sum of the sample values of `name` (every series) in exposition text. */
function sampleSum(text, name, labelFilter) {
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const c = line.charAt(name.length);
    if (c !== " " && c !== "{") continue;
    if (labelFilter !== undefined && !line.includes(labelFilter)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    sum += value;
    found = true;
  }
  return found ? sum : undefined;
}

// ---------------------------------------------------------------- bodies

const TEXT_CT = "text/plain; version=0.0.4";

/** (a), (b): 10 series in two families, as a small job pushes them. */
function smallBody() {
  const lines = ["# HELP bench_requests_total Requests handled.", "# TYPE bench_requests_total counter"];
  for (let i = 0; i < 5; i++) lines.push(`bench_requests_total{code="200",path="/p${i}"} ${i + 1}`);
  lines.push("# HELP bench_temperature_celsius Temperature.", "# TYPE bench_temperature_celsius gauge");
  for (let i = 0; i < 5; i++) lines.push(`bench_temperature_celsius{sensor="s${i}"} ${20 + i / 10}`);
  return `${lines.join("\n")}\n`;
}

/**
 * `families` x `perFamily` series: even families counters with 3 labels, odd ones gauges with 2.
 * No label set repeats anywhere in the body (the path carries a running number), so neither side can
 * share label strings between families: the memory figure is for distinct series.
 */
function bigBody(prefix, families, perFamily) {
  const codes = ["200", "404", "500"];
  const parts = [];
  for (let f = 0; f < families; f++) {
    const counter = f % 2 === 0;
    const name = counter ? `${prefix}_f${f}_total` : `${prefix}_g${f}`;
    const lines = [`# HELP ${name} Benchmark family ${f}.`, `# TYPE ${name} ${counter ? "counter" : "gauge"}`];
    for (let i = 0; i < perFamily; i++) {
      const host = `host="host-${i % 20}"`;
      const path = `path="/api/v1/items/${f * perFamily + i}"`;
      lines.push(counter ? `${name}{code="${codes[i % 3]}",${host},${path}} ${(f * 7919 + i * 31) % 100000}` : `${name}{${host},${path}} ${((f * 31 + i) % 1000) / 8}`);
    }
    parts.push(lines.join("\n"));
  }
  return Buffer.from(`${parts.join("\n")}\n`);
}

// ---------------------------------------------------------------- load

/** autocannon, bounded: by `duration` or by `amount` with a hard stop at `limitS`. */
function cannon(options, limitS) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ timeout: 30, ...options }, (error, result) => {
      clearTimeout(guard);
      if (error) reject(error);
      else resolve(result);
    });
    const guard = setTimeout(() => instance.stop(), (limitS ?? (options.duration ?? DURATION_S) * 3 + 30) * 1000);
  });
}

function loadFigures(result) {
  const ok = result["2xx"];
  return {
    statusCodes: statusCodes(result),
    requestsPerS: result.requests.average,
    okPerS: ok / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
  };
}

/** Responses by status class (autocannon's statusCodeStats when present). */
function statusCodes(result) {
  if (result.statusCodeStats) return Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, v]) => [k, v.count]));
  return { "1xx": result["1xx"], "2xx": result["2xx"], "3xx": result["3xx"], "4xx": result["4xx"], "5xx": result["5xx"] };
}

/** (a), (b): POST of the 10-series body to one group, 16 connections. */
async function pushLoad(base, warmup) {
  const options = {
    url: `${base}/metrics/job/bench/instance/a`,
    method: "POST",
    headers: { "content-type": TEXT_CT },
    body: smallBody(),
    connections: PUSH_CONNECTIONS,
  };
  if (warmup) await cannon({ ...options, duration: WARMUP_S });
  const fig = loadFigures(await cannon({ ...options, duration: DURATION_S }));
  if (fig.non2xx > 0 || fig.errors > 0) log(`  push load: ${fig.ok} 2xx, ${fig.non2xx} non-2xx ${JSON.stringify(fig.statusCodes)}, ${fig.errors} errors`);
  return fig;
}

// ---------------------------------------------------------------- memory

/**
 * V8 heap of a workerd isolate through the inspector: GC twice, then Runtime.getHeapUsage. workerd
 * runs an inspector command that needs the isolate (collectGarbage) only when the isolate is next
 * entered, so `poke` (a cheap request to the Worker) is sent until the command answers.
 */
async function cdpHeap(wsUrl, poke) {
  const WebSocket = require("ws");
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`inspector ${wsUrl}: no connection within 10 s`)), 10_000);
    ws.once("open", () => {
      clearTimeout(t);
      resolve();
    });
    ws.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    const p = pending.get(msg.id);
    if (p === undefined) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`${p.method}: ${JSON.stringify(msg.error)}`));
    else p.resolve(msg.result);
  });
  const call = (method, params = {}) => {
    let answered = false;
    const promise = new Promise((resolve, reject) => {
      const i = ++id;
      const t = setTimeout(() => {
        pending.delete(i);
        reject(new Error(`inspector: ${method} timed out`));
      }, 30_000);
      pending.set(i, { method, resolve: (v) => (clearTimeout(t), resolve(v)), reject: (e) => (clearTimeout(t), reject(e)) });
      ws.send(JSON.stringify({ id: i, method, params }));
    }).finally(() => (answered = true));
    (async () => {
      for (let n = 0; n < 60 && !answered; n++) {
        await sleep(250);
        if (!answered) await poke().catch(() => undefined);
      }
    })();
    return promise;
  };
  try {
    await call("HeapProfiler.enable").catch(() => undefined);
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const usage = await call("Runtime.getHeapUsage");
    await call("HeapProfiler.disable").catch(() => undefined);
    return { usedBytes: usage.usedSize, totalBytes: usage.totalSize, embedderBytes: usage.embedderHeapUsedSize, source: "V8 Runtime.getHeapUsage after 2x HeapProfiler.collectGarbage" };
  } finally {
    ws.terminate();
  }
}

async function memory(target) {
  const out = { rssBytes: NaN };
  try {
    out.rssBytes = rssBytes(target.pid());
  } catch (error) {
    out.rssError = error.message;
  }
  if (target.heap) {
    try {
      Object.assign(out, { heap: await target.heap() });
    } catch (error) {
      out.heapError = error.message;
    }
  }
  return out;
}

// ---------------------------------------------------------------- scenarios

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The HTTP scenarios against one server; `target` = { name, base, pid(), heap?, seriesCount(text) }. */
async function httpScenarios(target, rpc) {
  const r = { errors: {} };
  const step = async (key, fn) => {
    log(`${target.name}: ${key}`);
    try {
      r[key] = await fn();
    } catch (error) {
      r.errors[key] = error.stack ?? String(error);
      log(`${target.name}: ${key} FAILED: ${error.message}`);
    }
  };
  await step("a", () => pushLoad(target.base, true));
  if (rpc) await step("e", () => rpc());
  await step("memBefore", () => memory(target));
  await step("preload", async () => {
    const body = bigBody("preload", PRELOAD.families, PRELOAD.perFamily);
    const res = await expectOk(`${target.base}/metrics/job/preload`, { method: "PUT", headers: { "content-type": TEXT_CT }, body }, "preload PUT");
    return { seconds: res.ms / 1000, bodyBytes: body.length, series: PRELOAD.families * PRELOAD.perFamily };
  });
  await step("memAfter", () => memory(target));
  await step("b", () => pushLoad(target.base, false));
  await step("d", async () => {
    const out = {};
    for (const [key, headers] of [
      ["identity", { "accept-encoding": "identity" }],
      ["gzip", { "accept-encoding": "gzip" }],
    ]) {
      const warm = await expectOk(`${target.base}/metrics`, { headers }, `scrape (${key})`);
      if (key === "identity") out.seriesHeld = target.seriesCount(warm.body.toString("utf8"));
      const runs = [];
      for (let i = 0; i < SCRAPE_REPEATS; i++) runs.push(await expectOk(`${target.base}/metrics`, { headers }, `scrape (${key})`));
      out[key] = {
        seconds: median(runs.map((x) => x.ms)) / 1000,
        bytes: median(runs.map((x) => x.bytes)),
        contentEncoding: runs[0].headers["content-encoding"] ?? "identity",
      };
    }
    return out;
  });
  await step("memAfterScrape", () => memory(target));
  await step("c", async () => {
    const out = {};
    for (const size of PUT_SIZES) {
      const body = bigBody(`put${size.label}`, size.families, size.perFamily);
      const times = [];
      for (let i = 0; i < PUT_REPEATS; i++) {
        const group = `${target.base}/metrics/job/put${size.label}/run/r${i}`;
        const res = await expectOk(group, { method: "PUT", headers: { "content-type": TEXT_CT }, body }, `PUT ${size.label}`);
        times.push(res.ms / 1000);
        await expectOk(group, { method: "DELETE" }, `DELETE ${size.label} group`);
      }
      out[size.label] = { seconds: median(times), runs: times, series: size.families * size.perFamily, bodyBytes: body.length };
    }
    return out;
  });
  return r;
}

/** Reads the gateway's exposition (through `scrapeUrl`): the counter and the DO write calls. */
async function gatewayCounters(scrapeUrl, counter) {
  const text = (await expectOk(scrapeUrl, { headers: { "accept-encoding": "identity" } }, "gateway scrape")).body.toString("utf8");
  return { value: sampleSum(text, counter, 'worker="sibling"') ?? 0, writeCalls: sampleSum(text, "metrics_gateway_write_calls_total") ?? NaN };
}

/**
 * (e): RPC increments through the sibling. A 2 s warm-up (duration-bounded) measures the rate; the
 * measured run then sends exactly rate x DURATION_S requests (autocannon `amount`, hard stop at 3x),
 * so every request is answered before the counters are read again and none is in flight.
 */
async function rpcScenarios(siblingBase, scrapeUrl) {
  const out = {};
  for (const variant of [
    { key: "inc", path: "/inc", counter: "bench_rpc_total", perRequest: 1 },
    { key: "batched", path: "/batched", counter: "bench_rpc_batched_total", perRequest: 10 },
  ]) {
    const options = { url: `${siblingBase}${variant.path}`, connections: RPC_CONNECTIONS };
    const warm = await cannon({ ...options, duration: WARMUP_S });
    const amount = Math.max(RPC_CONNECTIONS * 4, Math.round((warm["2xx"] / warm.duration) * DURATION_S));
    await sleep(300);
    const before = await gatewayCounters(scrapeUrl, variant.counter);
    const result = await cannon({ ...options, amount }, DURATION_S * 3 + 30);
    await sleep(300);
    const after = await gatewayCounters(scrapeUrl, variant.counter);
    const ok = result["2xx"];
    const applied = after.value - before.value;
    const calls = after.writeCalls - before.writeCalls;
    out[variant.key] = {
      requests: amount,
      ok,
      non2xx: result.non2xx,
      statusCodes: statusCodes(result),
      errors: result.errors,
      timeouts: result.timeouts,
      durationS: result.duration,
      incrementsPerS: (ok * variant.perRequest) / result.duration,
      requestsPerS: ok / result.duration,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      incrementsApplied: applied,
      expectedIncrements: ok * variant.perRequest,
      exact: applied === ok * variant.perRequest,
      writeCalls: calls,
      callsPer1000: (calls / applied) * 1000,
    };
    log(`  rpc ${variant.key}: ${ok}/${amount} 2xx ${JSON.stringify(statusCodes(result))}, ${result.errors} errors, applied ${applied} (expected ${ok * variant.perRequest}), ${calls} DO write calls`);
  }
  return out;
}

// ---------------------------------------------------------------- targets

function buildSibling() {
  buildSync({
    entryPoints: [join(ROOT, "bench", "sibling", "index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    outfile: join(OUT, "sibling", "index.js"),
    logLevel: "warning",
  });
}

/**
 * A wrangler config next to a bundle: the original with `main` pointing at the bundle and
 * `no_bundle = true`, so `wrangler dev` serves exactly the code the bare column runs and does not
 * reload when src/ changes during a run.
 */
function configForBundle(originalToml, dir) {
  const text = readFileSync(originalToml, "utf8");
  if (!/^main\s*=.*$/m.test(text)) throw new Error(`${originalToml}: no main = line`);
  const out = text.replace(/^main\s*=.*$/m, 'main = "index.js"\nno_bundle = true');
  writeFileSync(join(dir, "wrangler.toml"), `# Generated by bench/run.mjs from ${originalToml.slice(ROOT.length)}: serves the bundle in this directory.\n${out}`);
}

/**
 * The counting build (bench/instrument/gateway.ts: the gateway plus counters of rows written and
 * Durable Object calls), bundled with esbuild as wrangler bundles the gateway (ESM, workerd
 * conditions, `cloudflare:` modules external, names kept).
 */
function buildInstrumented() {
  buildSync({
    entryPoints: [join(ROOT, "bench", "instrument", "gateway.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    external: ["cloudflare:*"],
    keepNames: true,
    outfile: INSTRUMENTED_BUNDLE,
    logLevel: "warning",
  });
}

/** Bundles the working tree once: the gateway (as `wrangler deploy` would), its counting build and the sibling. */
function prepareBundles() {
  log("bundling the gateway (wrangler deploy --dry-run), its counting build and the sibling (esbuild)");
  bundleGateway();
  buildInstrumented();
  buildSibling();
  configForBundle(join(ROOT, "wrangler.toml"), join(OUT, "gateway"));
  configForBundle(join(ROOT, "bench", "sibling", "wrangler.toml"), join(OUT, "sibling"));
}

function bundleGateway() {
  const r = spawnSync(WRANGLER, ["deploy", "--dry-run", "--outdir", join(OUT, "gateway")], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`wrangler deploy --dry-run failed: ${r.stderr || r.stdout}`);
}

const gatewaySeries = (text) => sampleSum(text, "metrics_gateway_series");
/** The Pushgateway's sample lines of the preload group (its push_time_seconds bookkeeping left out). */
const pushgatewaySeries = (text) =>
  text.split("\n").filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("push_time_seconds") && !l.startsWith("push_failure_time_seconds") && l.includes('job="preload"')).length;

async function runBare() {
  const [port, siblingPort, inspectorPort] = [await freePort(), await freePort(), await freePort()];
  const persist = tempDir("bare");
  const logFile = join(OUT, "miniflare.log");
  const logStream = createWriteStream(logFile);
  const mf = new Miniflare({
    // workerd's own output (warnings, uncaught errors) goes to bench/out/miniflare.log.
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.pipe(logStream, { end: false });
      stderr.pipe(logStream, { end: false });
    },
    host: "127.0.0.1",
    port,
    inspectorPort,
    durableObjectsPersist: persist,
    workers: [
      {
        name: "metrics-gateway",
        modules: true,
        scriptPath: join(OUT, "gateway", "index.js"),
        compatibilityDate: COMPAT_DATE,
        bindings: { ...VARS, MAX_BODY_BYTES: String(MAX_BODY_BYTES), MAX_SERIES: String(MAX_SERIES) },
        durableObjects: {
          AGGREGATOR: { className: "Aggregator", useSQLite: true },
          REGISTRY: { className: "TypeRegistry", useSQLite: true },
        },
      },
      {
        name: "bench-sibling",
        modules: true,
        scriptPath: join(OUT, "sibling", "index.js"),
        compatibilityDate: COMPAT_DATE,
        // RPC needs a binding to the entrypoint: { name } targets the default export (a WorkerEntrypoint).
        serviceBindings: { METRICS: { name: "metrics-gateway" } },
        unsafeDirectSockets: [{ host: "127.0.0.1", port: siblingPort }],
      },
    ],
  });
  started.miniflares.push(mf);
  await mf.ready;
  const workerd = descendants(process.pid).filter((p) => p.comm === "workerd");
  if (workerd.length !== 1) throw new Error(`bare: expected one workerd child of this process, found ${workerd.length}`);
  stray.push(workerd[0].pid);
  const base = `http://127.0.0.1:${port}`;
  const siblingBase = `http://127.0.0.1:${siblingPort}`;
  await waitHealthy(`${base}/-/healthy`, "bare gateway");
  await waitHealthy(`${siblingBase}/-/healthy`, "bare sibling");
  const target = {
    name: "bare",
    base,
    pid: () => workerd[0].pid,
    heap: () => cdpHeap(`ws://127.0.0.1:${inspectorPort}/core:user:metrics-gateway`, () => httpRequest(`${base}/-/healthy`, { timeoutMs: 5_000 })),
    seriesCount: gatewaySeries,
  };
  const result = await httpScenarios(target, () => rpcScenarios(siblingBase, `${base}/metrics`));
  started.miniflares = started.miniflares.filter((m) => m !== mf);
  await mf.dispose();
  logStream.end();
  return result;
}

const WRANGLER_ENV = () => ({
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  // A private dev registry, so these instances neither see nor are seen by other wrangler dev sessions.
  WRANGLER_REGISTRY_PATH: tempDir("registry"),
});

/** The user-code workerd of a wrangler dev session (the one with an inspector; the other is the dev proxy). */
function userWorkerd(entry) {
  const list = descendants(entry.pid).filter((p) => p.comm === "workerd");
  const user = list.find((p) => cmdline(p.pid).includes("--inspector-addr"));
  if (user === undefined) throw new Error(`${entry.name}: no user workerd found among ${list.length} workerd processes`);
  return user.pid;
}

/** The generated configs of the bundles (see configForBundle), relative to the repository. */
const GATEWAY_CONFIG = "bench/out/gateway/wrangler.toml";
const SIBLING_CONFIG = "bench/out/sibling/wrangler.toml";
const GATEWAY_BUNDLE = join(OUT, "gateway", "index.js");
const INSTRUMENTED_BUNDLE = join(OUT, "instrumented", "index.js");

/** The instrumented gateway as a Miniflare worker (its Durable Objects on SQLite), with these bindings. */
function instrumentedGateway(bindings) {
  return {
    name: "metrics-gateway",
    modules: true,
    scriptPath: INSTRUMENTED_BUNDLE,
    modulesRoot: dirname(INSTRUMENTED_BUNDLE),
    compatibilityDate: COMPAT_DATE,
    bindings,
    durableObjects: {
      AGGREGATOR: { className: "Aggregator", useSQLite: true },
      REGISTRY: { className: "TypeRegistry", useSQLite: true },
    },
  };
}
const SIBLING_BUNDLE = join(OUT, "sibling", "index.js");

async function runDev() {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const entry = startGroup(
    "wrangler-dev",
    WRANGLER,
    ["dev", "-c", GATEWAY_CONFIG, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", tempDir("dev"), "--log-level", "error", "--inspector-port", String(inspectorPort), "--var", `MAX_BODY_BYTES:${MAX_BODY_BYTES}`, "--var", `MAX_SERIES:${MAX_SERIES}`],
    WRANGLER_ENV(),
  );
  const base = `http://127.0.0.1:${port}`;
  let result;
  try {
    await waitHealthy(`${base}/-/healthy`, "wrangler dev", entry);
    const target = {
      name: "dev",
      base,
      pid: () => userWorkerd(entry),
      heap: async () => {
        const targets = JSON.parse((await expectOk(`http://127.0.0.1:${inspectorPort}/json`, {}, "inspector targets")).body.toString("utf8"));
        return cdpHeap(targets[0].webSocketDebuggerUrl, () => httpRequest(`${base}/-/healthy`, { timeoutMs: 5_000 }));
      },
      seriesCount: gatewaySeries,
    };
    result = await httpScenarios(target, undefined);
  } finally {
    await stopGroup(entry);
  }

  // (e): the sibling served first, the gateway second, in one wrangler dev session.
  log(`dev: e (wrangler dev -c ${SIBLING_CONFIG} -c ${GATEWAY_CONFIG})`);
  const [port2, inspectorPort2] = [await freePort(), await freePort()];
  const entry2 = startGroup(
    "wrangler-dev-sibling",
    WRANGLER,
    ["dev", "-c", SIBLING_CONFIG, "-c", GATEWAY_CONFIG, "--ip", "127.0.0.1", "--port", String(port2), "--persist-to", tempDir("dev-e"), "--log-level", "error", "--inspector-port", String(inspectorPort2)],
    WRANGLER_ENV(),
  );
  const siblingBase = `http://127.0.0.1:${port2}`;
  try {
    await waitHealthy(`${siblingBase}/-/healthy`, "wrangler dev (sibling + gateway)", entry2);
    // The gateway has no port of its own here: its /metrics is read through the sibling's pass-through.
    result.e = await rpcScenarios(siblingBase, `${siblingBase}/metrics`);
  } catch (error) {
    result.errors.e = error.stack ?? String(error);
    log(`dev: e FAILED: ${error.message}`);
  } finally {
    await stopGroup(entry2);
  }
  return result;
}

function ensurePushgateway() {
  if (existsSync(PUSHGATEWAY)) return;
  log("installing Debian's prometheus-pushgateway (apt-get install -y prometheus-pushgateway)");
  let r = spawnSync("apt-get", ["install", "-y", "prometheus-pushgateway"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, timeout: 600_000 });
  if (r.status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "inherit", timeout: 600_000 });
    r = spawnSync("apt-get", ["install", "-y", "prometheus-pushgateway"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, timeout: 600_000 });
  }
  if (!existsSync(PUSHGATEWAY)) throw new Error("prometheus-pushgateway could not be installed");
}

function pushgatewayVersion() {
  const r = spawnSync(PUSHGATEWAY, ["--version"], { encoding: "utf8", timeout: 10_000 });
  return /version ([^\s]+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? "unknown";
}

/** Starts a Pushgateway (in memory, on a free port); `heap()` reads the Go heap it reports itself. */
async function startPushgateway(name = "pushgateway") {
  ensurePushgateway();
  const port = await freePort();
  // Debian's build defaults --persistence.file to /var/lib/prometheus/pushgateway.data: turn it off
  // explicitly, or a run would start with the last run's series and write a shared system file.
  const entry = startGroup(name, PUSHGATEWAY, [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file="]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(`${base}/-/healthy`, name, entry);
  } catch (error) {
    await stopGroup(entry);
    throw error;
  }
  return {
    base,
    pid: entry.pid,
    // The Go heap as the Pushgateway reports it (no forced GC is possible from outside).
    heap: async () => {
      const text = (await expectOk(`${base}/metrics`, { headers: { "accept-encoding": "identity" }, timeoutMs: 600_000 }, "pushgateway /metrics")).body.toString("utf8");
      return { usedBytes: sampleSum(text, "go_memstats_heap_inuse_bytes"), totalBytes: sampleSum(text, "go_memstats_heap_sys_bytes"), source: "go_memstats_heap_inuse_bytes" };
    },
    stop: () => stopGroup(entry),
  };
}

async function runPushgateway() {
  const pg = await startPushgateway();
  try {
    const target = { name: "pushgateway", base: pg.base, pid: () => pg.pid, heap: pg.heap, seriesCount: pushgatewaySeries };
    const result = await httpScenarios(target, undefined);
    result.version = pushgatewayVersion();
    return result;
  } finally {
    await pg.stop();
  }
}

/**
 * A bare Miniflare instance for a section (its workerd output to bench/out/<name>.log), registered
 * for cleanup; answers it with the pid of the workerd process it started.
 */
async function startMiniflare(name, options) {
  mkdirSync(OUT, { recursive: true });
  const logStream = createWriteStream(join(OUT, `${name}.log`));
  const before = new Set(descendants(process.pid).filter((p) => p.comm === "workerd").map((p) => p.pid));
  const mf = new Miniflare({
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.pipe(logStream, { end: false });
      stderr.pipe(logStream, { end: false });
    },
    host: "127.0.0.1",
    ...options,
  });
  started.miniflares.push(mf);
  const dispose = async () => {
    started.miniflares = started.miniflares.filter((m) => m !== mf);
    await Promise.race([mf.dispose(), sleep(15_000)]).catch(() => undefined);
    logStream.end();
  };
  try {
    await mf.ready;
  } catch (error) {
    await dispose();
    throw new Error(`${name}: Miniflare did not start (${error.message}); see ${join(OUT, `${name}.log`)}`);
  }
  const fresh = descendants(process.pid).filter((p) => p.comm === "workerd" && !before.has(p.pid));
  if (fresh.length !== 1) {
    await dispose();
    throw new Error(`${name}: expected one new workerd process, found ${fresh.length}`);
  }
  stray.push(fresh[0].pid);
  return { mf, pid: fresh[0].pid, dispose };
}

/** What the sections (rows, scale, lifecycle) get from this script. */
const sectionContext = {
  log,
  tempDir,
  freePort,
  httpRequest,
  expectOk,
  waitHealthy,
  sampleSum,
  bigBody,
  startMiniflare,
  startPushgateway,
  TEXT_CT,
  COMPAT_DATE,
  VARS,
  OUT,
  ROOT,
  GATEWAY_BUNDLE,
  GATEWAY_DIR: dirname(GATEWAY_BUNDLE),
  instrumentedGateway,
  SIBLING_BUNDLE,
  SIBLING_DIR: dirname(SIBLING_BUNDLE),
};

// ---------------------------------------------------------------- report

const fmt = {
  int: (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-"),
  ms: (x) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x)} ms` : "-"),
  s: (x) => (Number.isFinite(x) ? `${x < 1 ? x.toFixed(3) : x.toFixed(2)} s` : "-"),
  mb: (x) => (Number.isFinite(x) ? `${(x / 1e6).toFixed(x < 1e7 ? 2 : 1)} MB` : "-"),
  b: (x) => (Number.isFinite(x) ? `${Math.round(x)} B` : "-"),
  ratio: (x) => (Number.isFinite(x) ? `${x >= 100 ? Math.round(x) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}x` : "-"),
};

function get(obj, path) {
  return path.split(".").reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);
}

/** Per target: the memory deltas of the preload. */
function memoryFigures(r, series) {
  if (r === undefined) return {};
  const before = r.memBefore;
  const after = r.memAfter;
  const out = {};
  if (before && after) {
    out.rssPerSeries = (after.rssBytes - before.rssBytes) / series;
    if (before.heap?.usedBytes !== undefined && after.heap?.usedBytes !== undefined) out.heapPerSeries = (after.heap.usedBytes - before.heap.usedBytes) / series;
    if (r.memAfterScrape?.heap?.usedBytes !== undefined && before.heap?.usedBytes !== undefined) out.heapPerSeriesAfterScrape = (r.memAfterScrape.heap.usedBytes - before.heap.usedBytes) / series;
    out.rssAfter = after.rssBytes;
  }
  return out;
}

function nonOk(f) {
  return f === undefined ? "-" : `${fmt.int(f.non2xx + f.errors)} of ${fmt.int(f.ok + f.non2xx + f.errors)}`;
}

function buildRows(results) {
  const { bare, dev, pushgateway: pg } = results.targets;
  const series = PRELOAD.families * PRELOAD.perFamily;
  const mem = { bare: memoryFigures(bare, series), dev: memoryFigures(dev, series), pushgateway: memoryFigures(pg, series) };
  const rows = [];
  // kind: "higher" (ratio ours/theirs) or "lower" (ratio theirs/ours); target evaluated on bare.
  const row = (label, kind, pick, fmtFn, target) => {
    const v = { bare: pick(bare, "bare"), dev: pick(dev, "dev"), pushgateway: pick(pg, "pushgateway") };
    const ratio = (ours) => (kind === "higher" ? ours / v.pushgateway : kind === "lower" ? v.pushgateway / ours : NaN);
    const out = { label, kind, values: v, ratioBare: ratio(v.bare), ratioDev: ratio(v.dev), fmt: fmtFn };
    if (target) {
      out.target = target.text;
      const known = (Number.isFinite(v.bare) || typeof v.bare === "string") && (kind === "none" || Number.isFinite(out.ratioBare));
      out.met = known ? target.check(v.bare, out.ratioBare) : undefined;
    }
    rows.push(out);
  };
  const s = (path) => (r) => get(r, path);
  row("(a) push 10 series, empty store: 2xx/s", "higher", s("a.okPerS"), fmt.int, { text: ">= 1.0x PGW", check: (_, r) => r >= 1 });
  row("(a) p50 latency", "lower", s("a.p50Ms"), fmt.ms);
  row("(a) p99 latency", "lower", s("a.p99Ms"), fmt.ms);
  row("(b) push 10 series, 110k held: 2xx/s", "higher", s("b.okPerS"), fmt.int, { text: ">= 50x PGW", check: (_, r) => r >= 50 });
  row("(b) p50 latency", "lower", s("b.p50Ms"), fmt.ms);
  row("(b) p99 latency", "lower", s("b.p99Ms"), fmt.ms);
  row("(a)/(b) non-2xx responses (of all sent)", "none", (r) => (r?.a || r?.b ? `${nonOk(r.a)} / ${nonOk(r.b)}` : undefined), (x) => x);
  row("(b)/(a) 2xx/s, same server (1.0 = flat)", "none", (r) => get(r, "b.okPerS") / get(r, "a.okPerS"), (x) => (Number.isFinite(x) ? x.toPrecision(2) : "-"));
  row("preload PUT 110k series (one request)", "lower", s("preload.seconds"), fmt.s);
  row("(c) PUT 10k series, fresh group", "lower", s("c.10k.seconds"), fmt.s, { text: "no slower than PGW", check: (_, r) => r >= 1 });
  row("(c) PUT 100k series, fresh group", "lower", s("c.100k.seconds"), fmt.s, { text: "no slower than PGW", check: (_, r) => r >= 1 });
  row("(d) scrape 110k, identity: time", "lower", s("d.identity.seconds"), fmt.s, { text: "no slower than PGW", check: (_, r) => r >= 1 });
  row("(d) scrape 110k, identity: bytes", "lower", s("d.identity.bytes"), fmt.mb);
  row("(d) scrape 110k, gzip: time", "lower", s("d.gzip.seconds"), fmt.s, { text: "no slower than PGW", check: (_, r) => r >= 1 });
  row("(d) scrape 110k, gzip: bytes on the wire", "lower", s("d.gzip.bytes"), fmt.mb);
  row("(d) series held (metrics_gateway_series / PGW count)", "none", s("d.seriesHeld"), fmt.int);
  row("(e) RPC inc through sibling: increments/s", "none", s("e.inc.incrementsPerS"), fmt.int, { text: ">= 10,000/s", check: (v) => v >= 10_000 });
  row("(e) RPC inc: DO write calls per 1,000 increments", "none", s("e.inc.callsPer1000"), (x) => (Number.isFinite(x) ? x.toFixed(1) : "-"), {
    text: "<= 100",
    check: (v) => v <= 100,
  });
  row("(e) RPC inc / batched: non-2xx or failed requests", "none", (r) => (r?.e ? `${nonOk(r.e.inc)} / ${nonOk(r.e.batched)}` : undefined), (x) => x);
  row("(e) RPC inc: p99 latency (sibling request)", "none", s("e.inc.p99Ms"), fmt.ms);
  row("(e) batched (10 inc/request): increments/s", "none", s("e.batched.incrementsPerS"), fmt.int, { text: ">= 10,000/s", check: (v) => v >= 10_000 });
  row("(e) batched: DO write calls per 1,000 increments", "none", s("e.batched.callsPer1000"), (x) => (Number.isFinite(x) ? x.toFixed(1) : "-"), {
    text: "<= 100",
    check: (v) => v <= 100,
  });
  row("(e) counter grew by exactly the 2xx count (inc / batched)", "none", (r) => {
    const a = get(r, "e.inc.exact");
    const b = get(r, "e.batched.exact");
    return a === undefined && b === undefined ? undefined : `${a === true ? "yes" : a === false ? "NO" : "-"} / ${b === true ? "yes" : b === false ? "NO" : "-"}`;
  }, (x) => x ?? "n/a", { text: "yes / yes", check: (v) => v === "yes / yes" });
  row("(f) RSS before preload", "none", s("memBefore.rssBytes"), fmt.mb);
  row("(f) RSS after preload", "none", s("memAfter.rssBytes"), fmt.mb);
  row("(f) RSS bytes per series (delta / 110k)", "lower", (_, k) => mem[k].rssPerSeries, fmt.b);
  row("(f) heap bytes per series (delta / 110k)", "lower", (_, k) => mem[k].heapPerSeries, fmt.b, { text: "<= 400 B", check: (v) => v <= 400 });
  row("(f) heap bytes per series after the scrapes", "none", (_, k) => mem[k].heapPerSeriesAfterScrape, fmt.b);
  return rows;
}

function printTable(results, rows) {
  const headers = ["figure", "gateway-bare", "gateway-dev", "Pushgateway", "bare/PGW", "dev/PGW", "target (bare)", ""];
  const lines = rows.map((r) => {
    const v = (k) => {
      const x = r.values[k];
      if (x === undefined || (typeof x === "number" && Number.isNaN(x))) return results.targets[k] === undefined ? "skipped" : r.label.startsWith("(e)") && k === "pushgateway" ? "n/a" : "-";
      return r.fmt(x);
    };
    const rat = (x) => (r.kind === "none" ? "" : fmt.ratio(x));
    return [r.label, v("bare"), v("dev"), v("pushgateway"), rat(r.ratioBare), rat(r.ratioDev), r.target ?? "", r.target === undefined ? "" : r.met === undefined ? "-" : r.met ? "met" : "MISSED"];
  });
  const widths = headers.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const fmtLine = (l) => l.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ");
  console.log("");
  console.log(`metrics-gateway vs Prometheus Pushgateway ${results.meta.pushgatewayVersion ?? ""} — ${results.meta.date}`);
  console.log(
    `${results.meta.cpus} cores shared by the load tool and the servers; node ${results.meta.node}; SHARDS=${results.meta.shards}; MAX_BODY_BYTES=${MAX_BODY_BYTES} and MAX_SERIES=${MAX_SERIES} for the bench; ` +
      `load runs ${DURATION_S} s (${PUSH_CONNECTIONS} connections for a/b, ${RPC_CONNECTIONS} for e)`,
  );
  console.log("ratios: > 1 means metrics-gateway is better (req/s: ours/theirs; times, bytes, memory: theirs/ours)");
  console.log("");
  console.log(fmtLine(headers));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(fmtLine(l));

  const m = results.micro;
  if (m.parse) {
    const p = m.parse;
    console.log("");
    console.log(
      `micro: exposition parser, ${(p.bodyBytes / 1e6).toFixed(2)} MB / ${p.series} series: ours ${p.ours.mbPerS.toFixed(1)} MB/s (${p.ours.ms.toFixed(1)} ms), ` +
        `parse-prometheus-text-format ${p.peer.mbPerS.toFixed(1)} MB/s (${p.peer.ms.toFixed(1)} ms): ${p.ratio.toFixed(2)}x; bare scan ${p.bare.mbPerS.toFixed(0)} MB/s`,
    );
  }
  if (m.remoteWrite) {
    const w = m.remoteWrite;
    console.log(
      `micro: remote-write export of ${w.timeSeries.toLocaleString("en-US")} TimeSeries in ${w.requests} requests: encode ${w.encodeMs.toFixed(1)} ms ` +
        `(${Math.round((w.encodeMs * 1e6) / w.timeSeries)} ns/series), snappy ${w.snappyMs.toFixed(1)} ms; ${(w.rawBytes / 1e6).toFixed(2)} MB -> ${(w.compressedBytes / 1e6).toFixed(2)} MB`,
    );
  }
  for (const [k, e] of Object.entries(m.errors ?? {})) console.log(`micro ${k} FAILED: ${e.split("\n")[0]}`);
  const failures = Object.entries(results.targets).flatMap(([t, r]) => Object.entries(r?.errors ?? {}).map(([s, e]) => `${t} ${s}: ${e.split("\n")[0]}`));
  for (const f of [...failures, ...results.failures]) console.log(`FAILED: ${f}`);
}

// ---------------------------------------------------------------- main

/** The commit measured and the files that differ from it (the bench bundles the working tree). */
function gitState() {
  const git = (...args) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8", timeout: 10_000 }).stdout?.trimEnd() ?? "";
  return { commit: git("rev-parse", "HEAD"), modified: git("status", "--porcelain", "--", "src", "rpc", "wrangler.toml").split("\n").filter(Boolean) };
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const results = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      shards: SHARDS,
      compatibilityDate: COMPAT_DATE,
      durationS: DURATION_S,
      pushConnections: PUSH_CONNECTIONS,
      rpcConnections: RPC_CONNECTIONS,
      preloadSeries: PRELOAD.families * PRELOAD.perFamily,
      maxBodyBytes: MAX_BODY_BYTES,
      git: gitState(),
    },
    micro: { errors: {} },
    targets: {},
    failures: [],
  };

  if (!SKIP_MICRO) {
    for (const [key, file, opts] of [
      ["parse", "parse.mjs", {}],
      ["remoteWrite", "remote-write.mjs", { log: false }],
    ]) {
      log(`micro: ${file}`);
      try {
        results.micro[key] = await (await import(`./${file}`)).run(opts);
      } catch (error) {
        results.micro.errors[key] = error.stack ?? String(error);
      }
    }
  }

  const SECTIONS = ["rows", "scale", "lifecycle"];
  let bundled = false;
  if (ONLY.has("bare") || ONLY.has("dev") || SECTIONS.some((k) => ONLY.has(k))) {
    try {
      prepareBundles();
      bundled = true;
    } catch (error) {
      results.failures.push(`bundling: ${error.stack ?? error}`);
      ONLY.delete("bare");
      ONLY.delete("dev");
    }
  }
  for (const [key, fn] of [
    ["pushgateway", runPushgateway],
    ["bare", runBare],
    ["dev", runDev],
  ]) {
    if (!ONLY.has(key)) continue;
    try {
      results.targets[key] = await fn();
    } catch (error) {
      results.failures.push(`${key}: ${error.stack ?? error}`);
      log(`${key} FAILED: ${error.message}`);
    }
  }
  if (results.targets.pushgateway) results.meta.pushgatewayVersion = results.targets.pushgateway.version;

  // The sections with servers of their own, one after the other.
  for (const [key, fn] of [
    ["rows", () => rowsSection.run(sectionContext)],
    ["scale", () => scaleSection.run(sectionContext, { series: SCALE_SERIES, targets: SCALE_TARGETS, repeats: SCALE_REPEATS })],
    ["lifecycle", () => lifecycleSection.run(sectionContext)],
  ]) {
    if (!ONLY.has(key)) continue;
    if (!bundled) {
      results.failures.push(`${key}: not run, the bundles could not be built`);
      continue;
    }
    log(`section: ${key}`);
    try {
      results[key] = await fn();
    } catch (error) {
      results.failures.push(`${key}: ${error.stack ?? error}`);
      log(`${key} FAILED: ${error.message}`);
    }
  }

  const rows = buildRows(results);
  results.table = rows.map(({ fmt: _, ...r }) => r);
  const series = PRELOAD.families * PRELOAD.perFamily;
  const bareMem = memoryFigures(results.targets.bare, series);
  const pgMem = memoryFigures(results.targets.pushgateway, series);
  results.readmeComparison = compareWithReadme(results, {
    bareHeapPerSeries: bareMem.heapPerSeries,
    bareHeapPerSeriesAfterScrape: bareMem.heapPerSeriesAfterScrape,
    pgHeapPerSeries: pgMem.heapPerSeries,
  });
  if (results.scale) results.scale.cpu = scaleSection.cpuSuggestion(results.scale);
  writeFileSync(join(OUT, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  if (Object.keys(results.targets).length > 0 || !SKIP_MICRO) printTable(results, rows);
  printSections(results);
  console.log("");
  console.log(`results: ${join("bench", "out", "results.json")}`);
  const sectionErrors = ["rows", "scale", "lifecycle"].some((k) => results[k] && Object.keys(results[k].errors ?? {}).length > 0);
  const failed =
    sectionErrors ||
    results.failures.length > 0 ||
    Object.keys(results.micro.errors).length > 0 ||
    Object.values(results.targets).some((r) => Object.keys(r.errors ?? {}).length > 0);
  return failed ? 1 : 0;
}

/** The sections' tables, the cost arithmetic, and this run next to README's figures. */
function printSections(results) {
  if (results.rows) {
    const r = results.rows;
    printSection(
      `rows written and Durable Object requests (counting build, SHARDS=${r.shards}; tables of the aggregator shards unless "registry")`,
      ["figure", "rows", "per unit", "rows by table", "DO requests", "goal", ""],
      rowsSection.rows(r),
    );
    for (const [k, e] of Object.entries(r.errors ?? {})) console.log(`FAILED: rows ${k}: ${e.split("\n")[0]}`);
    const c = r.costs;
    if (c) {
      console.log("");
      console.log(`monthly cost (30-day month = ${fmt2.int(c.monthSeconds)} s; Workers Paid: rows written $1.00/M beyond 50M, DO requests $0.15/M beyond 1M; duration and storage not included)`);
      const show = (name, p) => {
        console.log(`  ${name}`);
        for (const line of p.arithmetic) console.log(`    ${line}`);
      };
      if (c.profiles.P1) show("P1: a Pushgateway-style job PUTs 10,000 series every 15 s", c.profiles.P1);
      for (const [variant, p] of Object.entries(c.profiles.P2 ?? {})) show(`P2: 1,000 Worker requests/s, 5 increments each (batching helper), ${variant}`, p);
      for (const [variant, p] of Object.entries(c.profiles.P3 ?? {})) show(`P3: P1 and P2 together (P2 ${variant})`, p);
    }
  }
  if (results.scale) {
    const s = results.scale;
    printSection(
      `(g) scale: ${fmt2.int(s.series)} series over 8 shards (series per shard: ${s.seriesPerShard.map(fmt2.int).join(", ")}); vars raised: ${Object.entries(s.varsOverridden)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}`,
      ["figure", "single process", "split (Worker alone)", "Pushgateway", "PGW/single", "target", ""],
      scaleSection.rows(s),
      ["median (min-max) over runs; ratios: > 1 means metrics-gateway is better"],
    );
    for (const [k, e] of Object.entries(s.errors ?? {})) console.log(`FAILED: scale ${k}: ${e.split("\n")[0]}`);
    if (s.cpu) {
      console.log(
        `export of ${fmt2.int(s.cpu.series)} series: Worker process CPU up to ${fmt2.s(s.cpu.workerCpuSecondsMax)}, wall up to ${fmt2.s(s.cpu.wallSecondsMax)}` +
          (s.cpu.profiledJsGcSeconds !== undefined ? `, the Worker's own JS + GC ${fmt2.s(s.cpu.profiledJsGcSeconds)} (V8 profile)` : "") +
          `: suggested [limits] cpu_ms = ${s.cpu.suggestedCpuMs}`,
      );
    }
  }
  if (results.lifecycle) {
    printSection("(h) lifecycle (counting build, SHARDS=1)", ["figure", "value"], lifecycleSection.rows(results.lifecycle));
    for (const [k, e] of Object.entries(results.lifecycle.errors ?? {})) console.log(`FAILED: lifecycle ${k}: ${e.split("\n")[0]}`);
  }
  const cmp = (results.readmeComparison ?? []).filter((c) => c.measured !== undefined);
  if (cmp.length > 0) {
    printSection(
      "this run next to README.md's \"Capacity and cost\" figures (moved: outside the README range by more than 10%)",
      ["figure", "README", "this run", "change", ""],
      cmp.map((c) => [c.label, c.readme, c.measuredText, c.changePct === 0 ? "in range" : `${c.changePct > 0 ? "+" : ""}${c.changePct.toFixed(0)}%`, c.moved ? (c.better === false ? "MOVED (worse)" : c.better ? "MOVED (better)" : "MOVED") : ""]),
    );
  }
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(error);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
