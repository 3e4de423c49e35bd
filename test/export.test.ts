import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import Gateway from "../src/worker/entrypoint";
import { runExport } from "../src/worker/export";
import type { SendDeps } from "../src/wire/remote-write/send";
import { readCompressed, seriesName, type ReadRequest } from "./remote-write-reader";

const gw = exports.default;
const ENDPOINT = "http://receiver.test/api/v1/write";

interface Received {
  at: number;
  headers: Headers;
  request: ReadRequest;
  raw: Uint8Array;
}

/** URLs the scripted receiver was sent to other than ENDPOINT (checked after each test: an expect in the mock would be swallowed as a network error). */
let strayUrls: string[] = [];

/** Replaces fetch with a receiver that answers from `script` in order (the last answer repeats). */
function receiver(script: (() => Response | Promise<Response>)[]): Received[] {
  const received: Received[] = [];
  let call = 0;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (request.url !== ENDPOINT) strayUrls.push(request.url);
    const raw = new Uint8Array(await request.arrayBuffer());
    received.push({ at: Date.now(), headers: request.headers, request: readCompressed(raw), raw });
    const answer = script[Math.min(call++, script.length - 1)];
    if (answer === undefined) throw new Error("no answer scripted");
    return answer();
  });
  return received;
}

async function cron(scheduledTime: number, overrides: Partial<Env> = {}): Promise<void> {
  const ctx = createExecutionContext();
  const gateway = new Gateway(ctx, { ...env, ...overrides });
  await gateway.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime }));
  await waitOnExecutionContext(ctx);
}

function find(request: ReadRequest, name: string) {
  return request.series.find((s) => seriesName(s) === name);
}

beforeEach(async () => {
  await gw.delete("__all");
  // Settle the tombstones of that delete with an export that succeeds.
  receiver([() => new Response(null, { status: 204 })]);
  await cron(Date.now());
  vi.restoreAllMocks();
});

afterEach(() => {
  vi.restoreAllMocks();
  const stray = strayUrls;
  strayUrls = [];
  expect(stray).toEqual([]);
});

/** A self-metric's value in a scrape (the counters live as long as the shards, so tests compare deltas). */
function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in the scrape`);
  return Number(line.slice(series.length + 1));
}

/** Send dependencies with a clock that only moves when the sender sleeps, and every wait recorded. */
function fakeTime(start: number): { deps: SendDeps; waits: number[] } {
  let now = start;
  const waits: number[] = [];
  return {
    waits,
    deps: {
      fetch: (request) => fetch(request),
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
      now: () => now,
      random: () => 0,
    },
  };
}

describe("cron export", () => {
  it("sends remote write 1.0 with the spec's headers, sorted labels, run timestamps and metadata (204)", async () => {
    await gw.push('# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total{queue="b",env="prod"} 3\n');
    await gw.set("temperature", { room: "a", empty: "" }, -2.5);
    await gw.observe("latency_seconds", undefined, 0.3, [0.1, 1]);
    const received = receiver([() => new Response(null, { status: 204 })]);
    const t = Date.now() + 60_000;
    await cron(t);

    expect(received).toHaveLength(1);
    const [first] = received;
    if (first === undefined) throw new Error("nothing received");
    expect(first.headers.get("content-encoding")).toBe("snappy");
    expect(first.headers.get("content-type")).toBe("application/x-protobuf");
    expect(first.headers.get("x-prometheus-remote-write-version")).toBe("0.1.0");
    expect(first.headers.get("user-agent")).toMatch(/^metrics-gateway\/\d+\.\d+\.\d+$/);
    expect(first.headers.get("authorization")).toBeNull();

    const jobs = find(first.request, 'jobs_total{env="prod",queue="b"}');
    expect(jobs?.labels.map(([k]) => k)).toEqual(["__name__", "env", "queue"]);
    expect(jobs?.samples).toEqual([{ value: 3, bits: expect.any(BigInt), timestamp: t }]);
    // An empty label value is dropped, as Prometheus does.
    expect(find(first.request, 'temperature{room="a"}')?.samples[0]?.value).toBe(-2.5);
    expect(find(first.request, 'latency_seconds_bucket{le="0.1"}')?.samples[0]?.value).toBe(0);
    expect(find(first.request, 'latency_seconds_bucket{le="1.0"}')?.samples[0]?.value).toBe(1);
    expect(find(first.request, 'latency_seconds_bucket{le="+Inf"}')?.samples[0]?.value).toBe(1);
    expect(find(first.request, "latency_seconds_sum")?.samples[0]?.value).toBe(0.3);
    expect(find(first.request, "latency_seconds_count")?.samples[0]?.value).toBe(1);
    for (const series of first.request.series) {
      const names = series.labels.map(([k]) => k);
      expect(names, seriesName(series)).toEqual([...names].sort());
      expect(series.samples.every((s) => s.timestamp === t)).toBe(true);
    }
    expect(first.request.metadata).toContainEqual({ type: 1, family: "jobs_total", help: "Jobs run.", unit: "" });
    expect(first.request.metadata).toContainEqual({ type: 3, family: "latency_seconds", help: "", unit: "" });
    // Self-metrics travel with the export.
    expect(find(first.request, "metrics_gateway_series")?.samples[0]?.value).toBe(3);

    const text = await gw.scrape();
    expect(text).toContain(`metrics_gateway_remote_write_last_success_timestamp_seconds ${t / 1000}\n`);
    expect(text).toMatch(/metrics_gateway_remote_write_requests_total\{outcome="success"\} [1-9]/);
    const page = await (await gw.fetch("http://gateway/")).text();
    expect(page).toContain("Last run: <strong>succeeded at");
  });

  it("exports the groups' push times, so 'time() - push_time_seconds' alerts work without a scrape", async () => {
    await gw.push("batch_total 1\n", { group: { job: "nightly" } });
    const pushed = metric(await gw.scrape(), 'push_time_seconds{job="nightly"}');
    const received = receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now());
    const push = find(received[0]?.request ?? { series: [], metadata: [] }, 'push_time_seconds{job="nightly"}');
    expect(push?.samples[0]?.value).toBe(pushed);
    expect(find(received[0]?.request ?? { series: [], metadata: [] }, 'push_failure_time_seconds{job="nightly"}')?.samples[0]?.value).toBe(0);
  });

  it("authenticates with Basic when a user is set, Bearer with only a token", async () => {
    await gw.inc("a_total");
    const basic = receiver([() => new Response(null, { status: 200 })]);
    await cron(Date.now(), { SECRET_PROM_USER: "23333", SECRET_PROM_TOKEN: "tok" });
    expect(basic[0]?.headers.get("authorization")).toBe(`Basic ${btoa("23333:tok")}`);
    vi.restoreAllMocks();
    const bearer = receiver([() => new Response(null, { status: 200 })]);
    await cron(Date.now() + 1, { SECRET_PROM_USER: "", SECRET_PROM_TOKEN: "tok" });
    expect(bearer[0]?.headers.get("authorization")).toBe("Bearer tok");
  });

  it("resends the same samples, same timestamps, after a 500", async () => {
    await gw.inc("retry_total", { a: "1" }, 7);
    const before = await gw.scrape();
    const received = receiver([() => new Response("overloaded", { status: 500 }), () => new Response(null, { status: 204 })]);
    await cron(Date.now());
    expect(received).toHaveLength(2);
    expect(received[1]?.raw).toEqual(received[0]?.raw);
    const after = await gw.scrape();
    expect(metric(after, "metrics_gateway_remote_write_retries_total") - metric(before, "metrics_gateway_remote_write_retries_total")).toBe(1);
    const serverErrors = 'metrics_gateway_remote_write_requests_total{outcome="server_error"}';
    expect(metric(after, serverErrors) - metric(before, serverErrors)).toBe(1);
  });

  it("never resends after a 400 and logs the receiver's body verbatim", async () => {
    await gw.inc("bad_total");
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const received = receiver([() => new Response("out of order sample for series bad_total", { status: 400 })]);
    const before = await gw.scrape();
    await cron(Date.now());
    expect(received).toHaveLength(1);
    expect(errors.mock.calls.flat().join(" ")).toContain("out of order sample for series bad_total");
    const after = await gw.scrape();
    const lastSuccess = (t: string) => /last_success_timestamp_seconds (\S+)/.exec(t)?.[1];
    expect(lastSuccess(after)).toBe(lastSuccess(before));
    const failed = 'metrics_gateway_remote_write_samples_total{outcome="failure"}';
    expect(metric(after, failed) - metric(before, failed)).toBe(received[0]?.request.series.length);
    const page = await (await gw.fetch("http://gateway/")).text();
    expect(page).toContain("Last run: <strong>FAILED at");
  });

  it("waits as long as Retry-After says after a 429", async () => {
    await gw.inc("limited_total");
    const received = receiver([
      () => new Response("slow down", { status: 429, headers: { "Retry-After": "3" } }),
      () => new Response(null, { status: 204 }),
    ]);
    const { deps, waits } = fakeTime(Date.now());
    await runExport(env, Date.now(), deps);
    expect(received).toHaveLength(2);
    // Retry-After (3 s) is longer than the first backoff (125-250 ms): it decides.
    expect(waits).toEqual([3000]);
  });

  it("backs off even when Retry-After says 0", async () => {
    await gw.inc("zero_total");
    const received = receiver([
      () => new Response("busy", { status: 429, headers: { "Retry-After": "0" } }),
      () => new Response(null, { status: 204 }),
    ]);
    const { deps, waits } = fakeTime(Date.now());
    await runExport(env, Date.now(), deps);
    expect(received).toHaveLength(2);
    // The first backoff is 250 ms with jitter over its upper half; the jitter is 0 here.
    expect(waits).toEqual([125]);
  });

  it("ends the run at its time budget: a hung receiver is cut off, later batches are not started", async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `slow{i="${i}"} 1`).join("\n");
    await gw.push(`${lines}\n`);
    // What one run sends, counted from a run that succeeds.
    const ok = receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now(), { REMOTE_WRITE_BATCH_SIZE: "10" });
    const samples = ok.reduce((n, r) => n + r.request.series.length, 0);
    vi.restoreAllMocks();
    const before = await gw.scrape();
    let calls = 0;
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      calls++;
      const request = new Request(input, init);
      // Never answers; only the request's own abort signal ends it. (Were the budget not enforced,
      // the run would never end and the test would time out.)
      return new Promise<Response>((_, reject) => request.signal.addEventListener("abort", () => reject(new Error("aborted"))));
    });
    await cron(Date.now() + 1, { REMOTE_WRITE_BUDGET_MS: "400", REMOTE_WRITE_BATCH_SIZE: "10", REMOTE_WRITE_CONCURRENCY: "1" });
    expect(calls).toBe(1);
    // Every sample of the run failed: those of the request cut off and of those never started.
    const failed = 'metrics_gateway_remote_write_samples_total{outcome="failure"}';
    expect(metric(await gw.scrape(), failed) - metric(before, failed)).toBe(samples);
  });

  it("retries a network error", async () => {
    await gw.inc("net_total");
    const received = receiver([
      () => {
        throw new TypeError("Network connection lost.");
      },
      () => new Response(null, { status: 204 }),
    ]);
    const before = await gw.scrape();
    await cron(Date.now());
    expect(received).toHaveLength(2);
    const networkErrors = 'metrics_gateway_remote_write_requests_total{outcome="network_error"}';
    expect(metric(await gw.scrape(), networkErrors) - metric(before, networkErrors)).toBe(1);
  });

  it("logs one line and succeeds when no endpoint is configured", async () => {
    await gw.inc("quiet_total");
    const spy = vi.spyOn(globalThis, "fetch");
    const logs = vi.spyOn(console, "log").mockImplementation(() => undefined);
    await cron(Date.now(), { SECRET_PROM_ENDPOINT: "" });
    expect(spy).not.toHaveBeenCalled();
    expect(logs).toHaveBeenCalledTimes(1);
    expect(String(logs.mock.calls[0]?.[0])).toContain("SECRET_PROM_ENDPOINT is not set");
  });

  it("sends a stale marker with the exact bits once for a deleted series", async () => {
    await gw.inc("gone_total", { id: "1" });
    await gw.inc("gone_total", { id: "2" });
    receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now());
    vi.restoreAllMocks();
    await gw.delete("gone_total", { id: "1" });

    const next = receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now() + 1);
    const stale = find(next[0]?.request ?? { series: [], metadata: [] }, 'gone_total{id="1"}');
    expect(stale?.samples[0]?.bits).toBe(0x7ff0000000000002n);
    expect(find(next[0]?.request ?? { series: [], metadata: [] }, 'gone_total{id="2"}')?.samples[0]?.value).toBe(1);
    vi.restoreAllMocks();

    const after = receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now() + 2);
    expect(find(after[0]?.request ?? { series: [], metadata: [] }, 'gone_total{id="1"}')).toBeUndefined();
  });

  it("leaves the marker of a series deleted during a run to the next run (the run may have sent its value at the same timestamp)", async () => {
    await gw.set("a_early", undefined, 7);
    for (let i = 0; i < 6; i++) await gw.inc("z_total", { i: String(i) });
    let deleted = false;
    const first = receiver([
      async () => {
        // The first request holds a_early's value; the series is deleted while the run goes on.
        if (!deleted) {
          deleted = true;
          await gw.delete("a_early");
        }
        return new Response(null, { status: 204 });
      },
    ]);
    // One request at a time: the run goes on only after the delete (a real receiver is that slow).
    await cron(Date.now(), { REMOTE_WRITE_BATCH_SIZE: "2", REMOTE_WRITE_CONCURRENCY: "1" });
    vi.restoreAllMocks();
    expect(deleted).toBe(true);
    const samples = first.flatMap((r) => r.request.series.filter((s) => seriesName(s) === "a_early").flatMap((s) => s.samples));
    expect(samples.map((x) => x.value)).toEqual([7]);
    const next = receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now() + 1);
    const marker = next.flatMap((r) => r.request.series.filter((s) => seriesName(s) === "a_early").flatMap((s) => s.samples));
    expect(marker.map((x) => x.bits)).toEqual([0x7ff0000000000002n]);
    expect(marker[0]?.timestamp ?? 0).toBeGreaterThan(first.flatMap((r) => r.request.series.find((s) => seriesName(s) === "a_early")?.samples ?? [])[0]?.timestamp ?? Infinity);
  });

  it("keeps a stale marker owed until an export succeeds", async () => {
    await gw.inc("later_total");
    await gw.delete("later_total");
    receiver([() => new Response("no", { status: 400 })]);
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    await cron(Date.now());
    vi.restoreAllMocks();
    const retry = receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now() + 1);
    expect(find(retry[0]?.request ?? { series: [], metadata: [] }, "later_total")?.samples[0]?.bits).toBe(0x7ff0000000000002n);
  });

  it("stamps strictly increasing times even when two runs share a scheduled time", async () => {
    await gw.inc("twice_total");
    const received = receiver([() => new Response(null, { status: 204 })]);
    const t = Date.now() + 120_000;
    await cron(t);
    await cron(t);
    const ts = received.map((r) => find(r.request, "twice_total")?.samples[0]?.timestamp);
    expect(ts).toEqual([t, t + 1]);
  });

  it("splits large exports into batches of REMOTE_WRITE_BATCH_SIZE series", async () => {
    const lines = Array.from({ length: 2500 }, (_, i) => `many{i="${i}"} 1`).join("\n");
    await gw.push(`${lines}\n`);
    const received = receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now(), { REMOTE_WRITE_BATCH_SIZE: "1000" });
    const sizes = received.map((r) => r.request.series.length);
    const all = sizes.reduce((a, b) => a + b, 0);
    // Full requests of 1,000 series, then the rest: the 2,500 pushed plus the gateway's own metrics.
    expect(sizes).toEqual([...Array.from({ length: Math.floor(all / 1000) }, () => 1000), ...(all % 1000 === 0 ? [] : [all % 1000])]);
    const total = received.reduce((n, r) => n + r.request.series.filter((s) => seriesName(s).startsWith("many{")).length, 0);
    expect(total).toBe(2500);
  });

  it("never shows the endpoint's path, query or credentials in logs, the status page or /api/v1/status", async () => {
    const secret = "http://user:pa55word@receiver.test/api/v1/SECRETPATH/write?token=SECRETTOKEN";
    await gw.inc("secret_total");
    const logged: string[] = [];
    const keep = (...args: unknown[]) => void logged.push(args.map(String).join(" "));
    vi.spyOn(console, "error").mockImplementation(keep);
    vi.spyOn(console, "log").mockImplementation(keep);
    let call = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      // First a network error whose message quotes the URL, then a 400 that echoes it.
      if (call++ === 0) throw new TypeError(`connect ECONNREFUSED while fetching ${secret}`);
      // Receivers quote what they refused in many forms: whole, path alone, query alone, a value.
      return new Response(`rejected a request to ${secret} (path /api/v1/SECRETPATH/write, query token=SECRETTOKEN, token SECRETTOKEN, segment SECRETPATH)`, { status: 400 });
    });
    await cron(Date.now(), { SECRET_PROM_ENDPOINT: secret });
    const g = new Gateway(createExecutionContext(), { ...env, SECRET_PROM_ENDPOINT: secret });
    const page = await (await g.fetch(new Request("http://gateway/"))).text();
    const status = await (await g.fetch(new Request("http://gateway/api/v1/status"))).text();
    expect(call).toBe(2);
    expect(logged.length).toBeGreaterThan(0);
    for (const text of [...logged, page, status]) {
      for (const part of ["SECRETPATH", "SECRETTOKEN", "pa55word", "user:"]) expect(text).not.toContain(part);
    }
    expect(page).toContain("http://receiver.test");
    expect(JSON.parse(status).data.remote_write.endpoint).toBe("http://receiver.test");
    expect(logged.join("\n")).toContain("remote write to http://receiver.test: FAILED");
  });

  it("escapes names remote write 1.0 cannot carry as REMOTE_WRITE_NAME_ESCAPING says (underscores by default, allow-utf-8, drop)", async () => {
    await gw.inc("my.metric", { "k8s.pod": "p" });
    const names = async (escaping: string) => {
      const received = receiver([() => new Response(null, { status: 204 })]);
      await cron(Date.now() + received.length, { REMOTE_WRITE_NAME_ESCAPING: escaping });
      vi.restoreAllMocks();
      return received.flatMap((r) => r.request.series.map(seriesName)).filter((n) => n.startsWith("my"));
    };
    expect(await names("underscores")).toEqual(['my_metric{k8s_pod="p"}']);
    expect(await names("allow-utf-8")).toEqual(['my.metric{k8s.pod="p"}']);
    const before = await gw.scrape();
    expect(await names("drop")).toEqual([]);
    const dropped = 'metrics_gateway_remote_write_series_dropped_total{reason="invalid_name"}';
    expect(metric(await gw.scrape(), dropped) - metric(before, dropped)).toBe(1);
  });

  it("sends stale markers for a deleted group's series and its push times", async () => {
    await gw.push("grp_total 3\n", { group: { job: "gone" } });
    receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now());
    vi.restoreAllMocks();
    expect(await gw.fetch(new Request("http://gateway/metrics/job/gone", { method: "DELETE" })).then((r) => r.status)).toBe(202);
    const next = receiver([() => new Response(null, { status: 204 })]);
    await cron(Date.now() + 1);
    const request = next[0]?.request ?? { series: [], metadata: [] };
    for (const name of ['grp_total{job="gone"}', 'push_time_seconds{job="gone"}', 'push_failure_time_seconds{job="gone"}']) {
      expect(find(request, name)?.samples[0]?.bits).toBe(0x7ff0000000000002n);
    }
  });
});
