// Small load drivers with per-request records (autocannon reports aggregates only).
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

function request(agent, url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const h = { ...headers };
    if (payload !== undefined) h["content-length"] = String(payload.length);
    const req = http.request(url, { method, headers: h, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on("error", (error) => resolve({ status: 0, error: error.message }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error("timeout")));
    req.on("error", (error) => resolve({ status: 0, error: error.message }));
    req.end(payload);
  });
}

/**
 * Closed loop: exactly `total` requests, `concurrency` at a time; `make(i)` gives request i
 * ({ url, method, headers, body }). Answers counts by status and the wall time.
 */
export async function closedLoop(total, concurrency, make) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  const statuses = {};
  const failures = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const r = make(i);
        const res = await request(agent, r.url, r);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status < 200 || res.status > 299) failures.push(res.error ?? `${res.status} ${res.body?.toString("utf8").slice(0, 200)}`);
      }
    }),
  );
  agent.destroy();
  const ok = Object.entries(statuses).reduce((n, [s, c]) => n + (Number(s) >= 200 && Number(s) <= 299 ? c : 0), 0);
  return { total, ok, statuses, failures: failures.slice(0, 5), seconds: (performance.now() - t0) / 1000 };
}

/**
 * Open loop: one request every `intervalMs` whether or not the previous ones were answered (so a
 * stall shows up as latency, not as fewer requests), until `stop()`. Each record: start (epoch ms),
 * latency (ms), status.
 */
export function openLoop(intervalMs, make) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const records = [];
  const inFlight = new Set();
  let running = true;
  let i = 0;
  const loop = (async () => {
    let due = performance.now();
    while (running) {
      const r = make(i++);
      const start = Date.now();
      const t0 = performance.now();
      const p = request(agent, r.url, r).then((res) => {
        records.push({ start, latencyMs: performance.now() - t0, status: res.status });
        inFlight.delete(p);
      });
      inFlight.add(p);
      due += intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    records,
    async stop() {
      running = false;
      await loop;
      await Promise.all([...inFlight]);
      agent.destroy();
      return records;
    },
  };
}

/** p50, p99 and max of latencies (ms). */
export function percentiles(latencies) {
  const lat = [...latencies].sort((a, b) => a - b);
  const q = (p) => (lat.length === 0 ? NaN : lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]);
  return { requests: lat.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: lat[lat.length - 1] ?? NaN };
}

/** Latency figures of `records` (those started in [from, to), epoch ms), with the latencies themselves. */
export function latencyStats(records, from = -Infinity, to = Infinity) {
  const xs = records.filter((r) => r.start >= from && r.start < to);
  const latenciesMs = xs.map((r) => Math.round(r.latencyMs * 100) / 100);
  return { ...percentiles(latenciesMs), non2xx: xs.filter((r) => r.status < 200 || r.status > 299).length, latenciesMs };
}
