/**
 * The gateway as a user runs it: `wrangler dev` (real workerd, SQLite-backed Durable Objects on
 * disk), checked with the real promtool and scraped by a real Prometheus.
 */
import { spawnSync } from "node:child_process";
import { get, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requirePeer, startGateway, startPrometheus, tempDir, type Server } from "./servers";

const BODY = [
  "# HELP http_requests_total Requests served.",
  "# TYPE http_requests_total counter",
  'http_requests_total{code="200",path="/a"} 10',
  'http_requests_total{code="500",path="/a \\"quoted\\" \\\\ back\\nslash"} 2',
  "# HELP temperature_celsius Help with a \\\\ backslash and a \\n newline.",
  "# TYPE temperature_celsius gauge",
  "temperature_celsius{room=\"a\"} -3.5",
  "temperature_celsius{room=\"b\"} NaN",
  "temperature_celsius{room=\"c\"} +Inf",
  "# TYPE latency_seconds histogram",
  'latency_seconds_bucket{le="0.1"} 1',
  'latency_seconds_bucket{le="1"} 3',
  'latency_seconds_bucket{le="+Inf"} 4',
  "latency_seconds_sum 4.2",
  "latency_seconds_count 4",
  "# TYPE rpc_seconds summary",
  'rpc_seconds{quantile="0.5"} 0.2',
  'rpc_seconds{quantile="0.99"} 0.9',
  "rpc_seconds_sum 12",
  "rpc_seconds_count 40",
  "untyped_thing 7",
].join("\n"); // no trailing newline on purpose

async function push(gateway: Server, body: string): Promise<Response> {
  return fetch(`${gateway.url}/metrics`, { method: "POST", body });
}

describe("wrangler dev", () => {
  let state: string;
  let gateway: Server;

  beforeAll(async () => {
    state = tempDir("mg-state-");
    gateway = await startGateway(state, { MAX_BODY_BYTES: "1048576" });
    // Every test below reads this body (in the hook, so that no test depends on another having run).
    const pushed = await push(gateway, BODY);
    if (pushed.status !== 200) throw new Error(`pushing BODY answered ${pushed.status}: ${await pushed.text()}`);
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it("serves output that promtool parses, with only the lint findings the body calls for", async () => {
    const promtool = requirePeer("promtool");
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const result = spawnSync(promtool, ["check", "metrics"], { input: text, encoding: "utf8" });
    if (result.error !== undefined) throw new Error(`${promtool} could not run: ${result.error.message}`);
    const report = `promtool: status ${String(result.status)}, signal ${String(result.signal)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
    // promtool 2.42 exits 1 on a parse error ("error while linting: ...") and 3 when it only has
    // lint findings, written to stderr: the three families pushed without HELP, nothing else.
    expect(result.signal, report).toBeNull();
    expect(result.stderr, report).toBe("latency_seconds no help text\nrpc_seconds no help text\nuntyped_thing no help text\n");
    expect(result.stdout, report).toBe("");
    expect(result.status, report).toBe(3);
  });

  it("gzips only for clients that accept it (wrangler dev rewrites Accept-Encoding)", async () => {
    const raw = (headers: Record<string, string>) =>
      new Promise<{ encoding: string | undefined; head: Buffer }>((ok, fail) => {
        get(`${gateway.url}/metrics`, { headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => ok({ encoding: res.headers["content-encoding"], head: Buffer.concat(chunks).subarray(0, 2) }));
        }).on("error", fail);
      });
    const plain = await raw({});
    expect(plain.encoding).toBeUndefined();
    expect(plain.head.toString()).toBe("# ");
    const gz = await raw({ "Accept-Encoding": "gzip" });
    expect(gz.encoding).toBe("gzip");
    expect([...gz.head]).toEqual([0x1f, 0x8b]);
  });

  it("answers every one of many concurrent writes, after group commit merged them into few calls", async () => {
    const calls = async () => {
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      const value = /^metrics_gateway_write_calls_total (\d+)$/m.exec(text)?.[1];
      if (value === undefined) throw new Error(`no metrics_gateway_write_calls_total in the scrape:\n${text}`);
      return Number(value);
    };
    await fetch(`${gateway.url}/metrics/concurrent_total`, { method: "PATCH" });
    const before = await calls();
    const statuses = await Promise.all(Array.from({ length: 60 }, () => fetch(`${gateway.url}/metrics/concurrent_total`, { method: "PATCH" }).then((r) => r.status)));
    expect(statuses).toEqual(Array.from({ length: 60 }, () => 204));
    expect(await (await fetch(`${gateway.url}/metrics`)).text()).toContain("\nconcurrent_total 61\n");
    // How many calls group commit needs depends on timing; at least one, and fewer than the writes.
    const used = (await calls()) - before;
    expect(used).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThan(60);
  });

  it("answers 413 for an oversized body and serves the next request normally", async () => {
    const big = `# TYPE big gauge\n${"big 1\n".repeat(300_000)}`;
    const response = await push(gateway, big);
    expect(response.status).toBe(413);
    expect((await response.json()) as { error: string }).toMatchObject({ error: "LimitExceeded" });
    const next = await fetch(`${gateway.url}/-/healthy`);
    expect(next.status).toBe(200);
    const nextPush = await push(gateway, "after_413 1\n");
    expect(nextPush.status).toBe(200);
  });

  it("answers 413 for an oversized chunked body (no Content-Length) and serves the next write normally", async () => {
    // Sent in chunks with no declared length: the gateway finds out only while reading. The dev
    // proxy fails the next request to the Worker when a body was left unread, so it must be read.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${gateway.url}/metrics`, { method: "POST", agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      const line = "big 1\n".repeat(10_000);
      for (let i = 0; i < 40; i++) req.write(line);
      req.end();
    });
    expect(status).toBe(413);
    const nextPush = await push(gateway, "after_chunked_413 1\n");
    expect(nextPush.status, await nextPush.clone().text()).toBe(200);
    const del = await fetch(`${gateway.url}/metrics/after_chunked_413`, { method: "DELETE" });
    expect(del.status).toBe(200);
  });

  it("is scraped by a real Prometheus with exact values", async () => {
    requirePeer("prometheus");
    const prometheus = await startPrometheus([`127.0.0.1:${gateway.port}`]);
    try {
      /** The query's result as [labels, value] pairs (each sample's time is Prometheus's, not checked). */
      const query = async (q: string): Promise<[Record<string, string>, string][]> => {
        const r = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
        expect(body.status, q).toBe("success");
        return body.data.result.map((s) => [s.metric, s.value[1]]);
      };
      // Scraped every second: wait (up to 30 s) for the first scrape to be queryable.
      let first: Awaited<ReturnType<typeof query>> = [];
      for (let i = 0; i < 60 && first.length === 0; i++) {
        first = await query('http_requests_total{code="200"}');
        if (first.length === 0) await new Promise((r) => setTimeout(r, 500));
      }
      const target = { instance: `127.0.0.1:${gateway.port}`, job: "gateway" };
      expect(first).toEqual([[{ __name__: "http_requests_total", code: "200", path: "/a", ...target }, "10"]]);
      expect(await query("up")).toEqual([[{ __name__: "up", ...target }, "1"]]);
      expect(await query('latency_seconds_bucket{le="1"}')).toEqual([[{ __name__: "latency_seconds_bucket", le: "1", ...target }, "3"]]);
      expect(await query('rpc_seconds{quantile="0.99"}')).toEqual([[{ __name__: "rpc_seconds", quantile: "0.99", ...target }, "0.9"]]);
      expect(await query('http_requests_total{code="500"}')).toEqual([[{ __name__: "http_requests_total", code: "500", path: '/a "quoted" \\ back\nslash', ...target }, "2"]]);
      expect(await query('temperature_celsius{room="b"}')).toEqual([[{ __name__: "temperature_celsius", room: "b", ...target }, "NaN"]]);
      expect(await query('temperature_celsius{room="c"}')).toEqual([[{ __name__: "temperature_celsius", room: "c", ...target }, "+Inf"]]);
      expect(await query("untyped_thing")).toEqual([[{ __name__: "untyped_thing", ...target }, "7"]]);
    } finally {
      await prometheus.stop();
    }
  });

  it("loses nothing across a restart on the same state", async () => {
    const before = await (await fetch(`${gateway.url}/metrics`)).text();
    await gateway.stop();
    gateway = await startGateway(state, { MAX_BODY_BYTES: "1048576" });
    const after = await (await fetch(`${gateway.url}/metrics`)).text();
    // The gateway's own counters live in memory and restart from zero with the process (README);
    // everything stored, its own gauges of what is stored included, must come back unchanged.
    const stored = (t: string) => t.split(/(?=^# HELP )/m).filter((b) => !/^# TYPE metrics_gateway_\S+ counter$/m.test(b)).join("");
    expect(stored(after)).toBe(stored(before));
    expect(after).toContain('\nhttp_requests_total{code="200",path="/a"} 10\n');
    expect((await push(gateway, '# TYPE http_requests_total counter\nhttp_requests_total{code="200",path="/a"} 5\n')).status).toBe(200);
    expect(await (await fetch(`${gateway.url}/metrics`)).text()).toContain('\nhttp_requests_total{code="200",path="/a"} 15\n');
  });
});
