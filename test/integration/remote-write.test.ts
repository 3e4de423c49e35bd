/**
 * The cron export against a real Prometheus (Debian package, remote-write receiver on 127.0.0.1):
 * values pushed into `wrangler dev` come back from Prometheus's query API, and a deleted series
 * disappears after the next run (its stale marker is honoured).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, startPrometheus, tempDir, type Server } from "./servers";

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

describe("remote write to a real Prometheus", () => {
  let prometheus: Server;
  let gateway: Server;

  beforeAll(async () => {
    prometheus = await startPrometheus([]);
    gateway = await startGateway(tempDir("mg-rw-"), { SECRET_PROM_ENDPOINT: `${prometheus.url}/api/v1/write` });
  });
  afterAll(async () => {
    await gateway?.stop();
    await prometheus?.stop();
  });

  const query = async (q: string): Promise<Vector[]> => {
    const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await response.json()) as { status: string; data: { result: Vector[] } };
    expect(body.status).toBe("success");
    return body.data.result;
  };

  const cron = async () => {
    const response = await fetch(`${gateway.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`);
    expect(response.status).toBe(200);
  };

  it("delivers counters, gauges, a histogram and a summary", async () => {
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
    expect((await fetch(`${gateway.url}/metrics`, { method: "POST", body })).status).toBe(200);
    // Aggregation happens before export: a second push adds to the counter.
    await fetch(`${gateway.url}/metrics/orders_total?plan=pro`, { method: "PATCH", body: "2" });
    await cron();

    expect((await query('orders_total{plan="pro"}'))[0]?.value[1]).toBe("5");
    expect((await query('orders_total{plan="free"}'))[0]?.value[1]).toBe("5");
    expect((await query("queue_depth"))[0]?.value[1]).toBe("17");
    expect((await query('latency_seconds_bucket{le="1.0"}'))[0]?.value[1]).toBe("5");
    expect((await query('latency_seconds_bucket{le="+Inf"}'))[0]?.value[1]).toBe("6");
    expect((await query("latency_seconds_sum"))[0]?.value[1]).toBe("3.5");
    expect((await query('rpc_seconds{quantile="0.5"}'))[0]?.value[1]).toBe("0.25");
    expect((await query("rpc_seconds_count"))[0]?.value[1]).toBe("40");
    expect((await query("metrics_gateway_series"))[0]?.value[1]).toBe("5");

    // Metadata (field 3) is checked by the unit tests: Prometheus 2.42's receiver does not store it.
  });

  it("makes a deleted series disappear after the next run (stale marker)", async () => {
    expect((await query('orders_total{plan="free"}')).length).toBe(1);
    const deleted = await fetch(`${gateway.url}/metrics/orders_total?plan=free`, { method: "DELETE" });
    expect(await deleted.json()).toEqual({ deleted: 1 });
    await new Promise((r) => setTimeout(r, 5)); // a later run time than the previous export
    await cron();
    expect(await query('orders_total{plan="free"}')).toEqual([]);
    expect((await query('orders_total{plan="pro"}'))[0]?.value[1]).toBe("5");
  });
});
