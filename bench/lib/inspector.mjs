// The V8 inspector (Chrome DevTools Protocol) of a workerd isolate, and /proc figures of a process:
// what the bench's heap and CPU figures are read with.
//
// - heapAfterGc(): HeapProfiler.collectGarbage twice, then Runtime.getHeapUsage (live heap).
// - HeapSampler: Runtime.getHeapUsage over and over (one call in flight, `intervalMs` apart) while
//   something runs; the peak of `usedSize` (live objects and garbage not yet collected: what the
//   isolate holds at that moment). workerd answers an inspector call only when it can take the
//   isolate's lock, so a sample comes when the isolate is between two turns of work; each sample's
//   latency is recorded, and the largest latency is the sampler's resolution for that run.
// - cpuProfile(): V8's sampling CPU profiler on the isolate (Profiler.start/stop), summed into JS,
//   GC, "(program)" (native work outside JS, and time the thread spent in other isolates) and idle.
// - procCpuSeconds(), peakRss(): utime+stime and VmHWM (reset through /proc/<pid>/clear_refs).
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";

const WebSocket = createRequire(import.meta.url)("ws");

export class Inspector {
  #ws;
  #id = 0;
  #pending = new Map();

  static async connect(wsUrl) {
    const insp = new Inspector();
    insp.#ws = new WebSocket(wsUrl, { maxPayload: 1024 * 1024 * 1024 });
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`inspector ${wsUrl}: no connection within 10 s`)), 10_000);
      insp.#ws.once("open", () => {
        clearTimeout(t);
        resolve();
      });
      insp.#ws.once("error", (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    insp.#ws.on("message", (data) => {
      const msg = JSON.parse(data.toString());
      const p = insp.#pending.get(msg.id);
      if (p === undefined) return;
      insp.#pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${JSON.stringify(msg.error)}`));
      else p.resolve(msg.result);
    });
    insp.#ws.on("close", () => {
      for (const p of insp.#pending.values()) p.reject(new Error(`inspector closed during ${p.method}`));
      insp.#pending.clear();
    });
    return insp;
  }

  /**
   * One command. `poke` (a cheap request to the Worker) is sent every 250 ms while the command has
   * no answer: workerd runs some commands only when the isolate is next entered.
   */
  call(method, params = {}, { poke, timeoutMs = 60_000 } = {}) {
    let answered = false;
    const promise = new Promise((resolve, reject) => {
      const id = ++this.#id;
      const t = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`inspector: ${method} timed out after ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#pending.set(id, {
        method,
        resolve: (v) => (clearTimeout(t), resolve(v)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    }).finally(() => (answered = true));
    if (poke) {
      (async () => {
        for (let n = 0; n < 240 && !answered; n++) {
          await sleep(250);
          if (!answered) await poke().catch(() => undefined);
        }
      })();
    }
    return promise;
  }

  close() {
    this.#ws.terminate();
  }
}

/** Live heap: two full GCs, then the heap usage. */
export async function heapAfterGc(insp, poke) {
  await insp.call("HeapProfiler.enable", {}, { poke }).catch(() => undefined);
  await insp.call("HeapProfiler.collectGarbage", {}, { poke });
  await insp.call("HeapProfiler.collectGarbage", {}, { poke });
  const u = await insp.call("Runtime.getHeapUsage", {}, { poke });
  await insp.call("HeapProfiler.disable", {}, { poke }).catch(() => undefined);
  return { usedBytes: u.usedSize, totalBytes: u.totalSize, embedderBytes: u.embedderHeapUsedSize, backingStorageBytes: u.backingStorageSize };
}

/**
 * Samples Runtime.getHeapUsage until stopped. With `live`, every sample is taken right after a full
 * GC (HeapProfiler.collectGarbage, run by workerd between two turns of the isolate's work), so it
 * is the heap of live objects at that moment: slower (a full GC per sample), and it slows the
 * measured work down, so live sampling runs on its own, not in timed runs.
 */
export class HeapSampler {
  #insp;
  #intervalMs;
  #live;
  #poke;
  #running = false;
  #loop;
  samples = [];

  /** `poke`: a cheap request to the Worker, sent when a GC waits for the isolate to be entered. */
  constructor(insp, intervalMs = 2, { live = false, poke } = {}) {
    this.#insp = insp;
    this.#intervalMs = intervalMs;
    this.#live = live;
    this.#poke = poke;
  }

  start() {
    this.#running = true;
    this.samples = [];
    const t0 = performance.now();
    this.#loop = (async () => {
      if (this.#live) await this.#insp.call("HeapProfiler.enable").catch(() => undefined);
      while (this.#running) {
        const sent = performance.now();
        // workerd runs a requested GC when the isolate is next entered: during the measured work
        // that is its next turn; once the work is done, `poke` enters it.
        if (this.#live) await this.#insp.call("HeapProfiler.collectGarbage", {}, { timeoutMs: 600_000, poke: this.#poke });
        const u = await this.#insp.call("Runtime.getHeapUsage", {}, { timeoutMs: 600_000 });
        const at = performance.now();
        this.samples.push({ t: sent - t0, latencyMs: at - sent, used: u.usedSize, total: u.totalSize, backing: u.backingStorageSize ?? 0 });
        await sleep(this.#intervalMs);
      }
    })();
    return this;
  }

  /** Stops (after one more sample, taken once the measured work has ended) and summarizes. */
  async stop() {
    this.#running = false;
    await this.#loop;
    const s = this.samples;
    let peak = s[0];
    for (const x of s) if (x.used > peak.used) peak = x;
    const latencies = s.map((x) => x.latencyMs).sort((a, b) => a - b);
    return {
      samples: s.length,
      peakUsedBytes: peak?.used,
      peakTotalBytes: Math.max(...s.map((x) => x.total)),
      firstUsedBytes: s[0]?.used,
      lastUsedBytes: s[s.length - 1]?.used,
      medianLatencyMs: latencies[Math.floor(latencies.length / 2)],
      maxLatencyMs: latencies[latencies.length - 1],
    };
  }
}

/** V8 CPU profile of the isolate while `fn` runs: milliseconds by kind. */
export async function cpuProfile(insp, fn, intervalUs = 1000) {
  await insp.call("Profiler.enable");
  await insp.call("Profiler.setSamplingInterval", { interval: intervalUs });
  await insp.call("Profiler.start");
  let value;
  let profile;
  try {
    value = await fn();
  } finally {
    ({ profile } = await insp.call("Profiler.stop", {}, { timeoutMs: 120_000 }));
    await insp.call("Profiler.disable").catch(() => undefined);
  }
  const kind = new Map();
  for (const node of profile.nodes) {
    const name = node.callFrame.functionName;
    kind.set(node.id, name === "(idle)" ? "idle" : name === "(program)" ? "program" : name === "(garbage collector)" ? "gc" : name === "(root)" ? "program" : "js");
  }
  const ms = { js: 0, gc: 0, program: 0, idle: 0 };
  const deltas = profile.timeDeltas ?? [];
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time from the previous sample to this one: attribute the next delta to this sample.
    const dt = (deltas[i + 1] ?? intervalUs) / 1000;
    ms[kind.get(id) ?? "program"] += dt;
  });
  return { value, ms, samples: profile.samples.length, wallMs: (profile.endTime - profile.startTime) / 1000 };
}

const CLK_TCK = 100; // Linux USER_HZ

/** utime + stime of a process (all its threads), in seconds. */
export function procCpuSeconds(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function statusKb(pid, field) {
  const m = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resets the process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5). False if not allowed. */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export function rss(pid) {
  return { rssBytes: statusKb(pid, "VmRSS"), hwmBytes: statusKb(pid, "VmHWM") };
}
