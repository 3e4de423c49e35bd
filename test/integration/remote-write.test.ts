/**
 * The cron export against a real Prometheus (Debian package, remote-write receiver on 127.0.0.1):
 * values pushed into `wrangler dev` come back from Prometheus's query API, and a deleted series
 * disappears after the next run (its stale marker is honoured).
 */
import { afterAll, describe, expect, it } from "vitest";
import { requirePeer, startGateway, startPrometheus, tempDir, type Server } from "./servers";

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

describe("remote write to a real Prometheus", () => {
  let started: Promise<{ prometheus: Server; gateway: Server }> | undefined;
  let servers: { prometheus?: Server; gateway?: Server } = {};

  /**
   * Both servers, started by the first test that asks. Not a beforeAll: without Prometheus every
   * test fails with the message naming the package, instead of being reported as skipped.
   */
  function both(): Promise<{ prometheus: Server; gateway: Server }> {
    started ??= (async () => {
      requirePeer("prometheus");
      const prometheus = await startPrometheus([]);
      servers = { prometheus };
      const gateway = await startGateway(tempDir("mg-rw-"), { SECRET_PROM_ENDPOINT: `${prometheus.url}/api/v1/write` });
      servers = { prometheus, gateway };
      return { prometheus, gateway };
    })();
    return started;
  }
  afterAll(async () => {
    await servers.gateway?.stop();
    await servers.prometheus?.stop();
  });

  /** The query's result as [labels, value] pairs (a sample's time is the export run's, set below). */
  const query = async (q: string): Promise<[Record<string, string>, string][]> => {
    const { prometheus } = await both();
    const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await response.json()) as { status: string; data: { result: Vector[] } };
    expect(body.status, q).toBe("success");
    return body.data.result.map((s) => [s.metric, s.value[1]]);
  };

  /** A range query's result as [labels, [time in s, value][]] pairs: the samples as stored. */
  const samples = async (q: string): Promise<[Record<string, string>, [number, string][]][]> => {
    const { prometheus } = await both();
    const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await response.json()) as { status: string; data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
    expect(body.status, q).toBe("success");
    return body.data.result.map((s) => [s.metric, s.values]);
  };

  // Explicit run times, a minute apart and in the recent past (Prometheus's query looks back 5 min):
  // the second run is later than the first without waiting, and no sample is dated in the future.
  const firstRun = Date.now() - 120_000;

  const cron = async (scheduledTime: number) => {
    const { gateway } = await both();
    const response = await fetch(`${gateway.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}&time=${scheduledTime}`);
    expect(response.status).toBe(200);
  };

  it("delivers counters, gauges, a histogram and a summary", async () => {
    const { gateway } = await both();
    const body = [
      "# HELP orders_total Orders placed.",
      "# TYPE orders_total counter",
      'orders_total{plan="pro"} 3',
      'orders_total{plan="free"} 5',
      "# TYPE queue_depth gauge",
      "queue_depth 17",
      "# TYPE latency_seconds histogram",
      'latency_seconds_bucket{le="0.1"} 2',
      'latency_seconds_bucket{le="1"} 5',
      'latency_seconds_bucket{le="+Inf"} 6',
      "latency_seconds_sum 3.5",
      "latency_seconds_count 6",
      "# TYPE rpc_seconds summary",
      'rpc_seconds{quantile="0.5"} 0.25',
      "rpc_seconds_sum 10",
      "rpc_seconds_count 40",
      "",
    ].join("\n");
    expect(await (await fetch(`${gateway.url}/metrics`, { method: "POST", body })).json()).toEqual({ families: 4, series: 5 });
    // Aggregation happens before export: a second push adds to the counter.
    expect((await fetch(`${gateway.url}/metrics/orders_total?plan=pro`, { method: "PATCH", body: "2" })).status).toBe(204);
    await cron(firstRun);

    expect(await query("orders_total")).toEqual([
      [{ __name__: "orders_total", plan: "free" }, "5"],
      [{ __name__: "orders_total", plan: "pro" }, "5"],
    ]);
    expect(await query("queue_depth")).toEqual([[{ __name__: "queue_depth" }, "17"]]);
    // le in Prometheus 3's canonical form.
    expect(await query("latency_seconds_bucket")).toEqual([
      [{ __name__: "latency_seconds_bucket", le: "+Inf" }, "6"],
      [{ __name__: "latency_seconds_bucket", le: "0.1" }, "2"],
      [{ __name__: "latency_seconds_bucket", le: "1.0" }, "5"],
    ]);
    expect(await query("latency_seconds_sum")).toEqual([[{ __name__: "latency_seconds_sum" }, "3.5"]]);
    expect(await query("latency_seconds_count")).toEqual([[{ __name__: "latency_seconds_count" }, "6"]]);
    expect(await query("rpc_seconds")).toEqual([[{ __name__: "rpc_seconds", quantile: "0.5" }, "0.25"]]);
    expect(await query("rpc_seconds_sum")).toEqual([[{ __name__: "rpc_seconds_sum" }, "10"]]);
    expect(await query("rpc_seconds_count")).toEqual([[{ __name__: "rpc_seconds_count" }, "40"]]);
    expect(await query("metrics_gateway_series")).toEqual([[{ __name__: "metrics_gateway_series" }, "5"]]);
    // The sample is dated with the run's scheduled time.
    expect(await samples("queue_depth[10m]")).toEqual([[{ __name__: "queue_depth" }, [[firstRun / 1000, "17"]]]]);

    // Metadata (field 3) is checked by the unit tests: Prometheus 2.42's receiver does not store it.
  });

  it("makes a deleted series disappear after the next run (stale marker)", async () => {
    const { gateway } = await both();
    expect(await query('orders_total{plan="free"}')).toEqual([[{ __name__: "orders_total", plan: "free" }, "5"]]);
    const deleted = await fetch(`${gateway.url}/metrics/orders_total?plan=free`, { method: "DELETE" });
    expect(await deleted.json()).toEqual({ deleted: 1 });
    await cron(firstRun + 60_000);
    expect(await query('orders_total{plan="free"}')).toEqual([]);
    expect(await query("orders_total")).toEqual([[{ __name__: "orders_total", plan: "pro" }, "5"]]);
    // The series still held got a sample from each run; the deleted one only the first (its stale
    // marker is not returned as a sample).
    expect(await samples("orders_total[10m]")).toEqual([
      [{ __name__: "orders_total", plan: "free" }, [[firstRun / 1000, "5"]]],
      [{ __name__: "orders_total", plan: "pro" }, [[firstRun / 1000, "5"], [(firstRun + 60_000) / 1000, "5"]]],
    ]);
  });
});
