/**
 * The gateway as a user runs it: `wrangler dev` (real workerd, SQLite-backed Durable Objects on
 * disk), checked with the real promtool and scraped by a real Prometheus.
 */
import { execFileSync } from "node:child_process";
import { get } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, startPrometheus, tempDir, type Server } from "./servers";

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
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it("serves output that promtool parses without error", async () => {
    expect((await push(gateway, BODY)).status).toBe(200);
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    let result = "";
    try {
      result = execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    } catch (error) {
      // promtool exits 1 for lint findings (e.g. naming advice) too; only parse errors fail the test.
      const e = error as { stdout?: string; stderr?: string };
      result = `${e.stdout ?? ""}${e.stderr ?? ""}`;
    }
    expect(result).not.toMatch(/error while linting|parse error|text format parsing error/i);
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
    const calls = async () => Number(/metrics_gateway_write_calls_total (\d+)/.exec(await (await fetch(`${gateway.url}/metrics`)).text())?.[1]);
    await fetch(`${gateway.url}/metrics/concurrent_total`, { method: "PATCH" });
    const before = await calls();
    const statuses = await Promise.all(Array.from({ length: 60 }, () => fetch(`${gateway.url}/metrics/concurrent_total`, { method: "PATCH" }).then((r) => r.status)));
    expect(statuses.every((s) => s === 204)).toBe(true);
    expect(await (await fetch(`${gateway.url}/metrics`)).text()).toContain("concurrent_total 61\n");
    expect((await calls()) - before).toBeLessThan(60);
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

  it("is scraped by a real Prometheus with exact values", async () => {
    const prometheus = await startPrometheus([`127.0.0.1:${gateway.port}`]);
    try {
      const query = async (q: string) => {
        const r = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await r.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
        return body.data.result;
      };
      let result: Awaited<ReturnType<typeof query>> = [];
      for (let i = 0; i < 60 && result.length === 0; i++) {
        result = await query('http_requests_total{code="200"}');
        if (result.length === 0) await new Promise((r) => setTimeout(r, 500));
      }
      expect(result[0]?.value[1]).toBe("10");
      expect((await query("up"))[0]?.value[1]).toBe("1");
      expect((await query('latency_seconds_bucket{le="1"}'))[0]?.value[1]).toBe("3");
      expect((await query('rpc_seconds{quantile="0.99"}'))[0]?.value[1]).toBe("0.9");
      const quoted = await query('http_requests_total{code="500"}');
      expect(quoted[0]?.metric.path).toBe('/a "quoted" \\ back\nslash');
    } finally {
      await prometheus.stop();
    }
  });

  it("loses nothing across a restart on the same state", async () => {
    const before = await (await fetch(`${gateway.url}/metrics`)).text();
    await gateway.stop();
    gateway = await startGateway(state, { MAX_BODY_BYTES: "1048576" });
    const after = await (await fetch(`${gateway.url}/metrics`)).text();
    // In-memory counters (pushes, write calls) restart from zero with the process; everything stored must not.
    const user = (t: string) => t.split(/(?=# HELP )/).filter((b) => !/^# HELP metrics_gateway_(pushes|write_calls)/.test(b)).join("");
    expect(user(after)).toBe(user(before));
    expect(after).toContain('http_requests_total{code="200",path="/a"} 10\n');
    await push(gateway, '# TYPE http_requests_total counter\nhttp_requests_total{code="200",path="/a"} 5\n');
    expect(await (await fetch(`${gateway.url}/metrics`)).text()).toContain('http_requests_total{code="200",path="/a"} 15\n');
  });
});
