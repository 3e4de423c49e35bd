/**
 * Stock client libraries pointed at the gateway (`wrangler dev` on 127.0.0.1) with no change but the
 * URL: prom-client's Pushgateway and Python's prometheus_client (Debian's python3-prometheus-client).
 */
import { execFileSync } from "node:child_process";
import { Counter, Gauge, Histogram, Pushgateway, Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { requirePythonModule, startGateway, tempDir, type Server } from "./servers";

let gateway: Server;

beforeAll(async () => {
  gateway = await startGateway(tempDir("mg-clients-"));
});
afterAll(async () => {
  await gateway?.stop();
});
beforeEach(async () => {
  await fetch(`${gateway.url}/api/v1/admin/wipe`, { method: "PUT" });
});

/** The scrape's sample lines (no comments, no gateway self-metrics, no push times). */
async function sampleLines(): Promise<string[]> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("metrics_gateway_") && !l.startsWith("push_"));
}

describe("prom-client Pushgateway", () => {
  function registry(openmetrics = false) {
    const reg = new Registry<typeof Registry.PROMETHEUS_CONTENT_TYPE | typeof Registry.OPENMETRICS_CONTENT_TYPE>();
    if (openmetrics) reg.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const jobs = new Counter({ name: "pc_jobs_total", help: "Jobs.", labelNames: ["kind"], registers: [reg] });
    const temp = new Gauge({ name: "pc_temp", help: "Temp.", registers: [reg] });
    const lat = new Histogram({ name: "pc_latency_seconds", help: "Latency.", buckets: [0.1, 1], registers: [reg] });
    return { reg, jobs, temp, lat };
  }

  it("pushAdd aggregates, push replaces, delete removes; a grouping value with '/' works", async () => {
    const { reg, jobs, temp, lat } = registry();
    jobs.inc({ kind: "a" }, 2);
    temp.set(21);
    lat.observe(0.5);
    const client = new Pushgateway(gateway.url, {}, reg);
    await client.pushAdd({ jobName: "pc", groupings: { instance: "db/1" } });
    await client.pushAdd({ jobName: "pc", groupings: { instance: "db/1" } });
    expect(await sampleLines()).toEqual([
      'pc_jobs_total{instance="db/1",job="pc",kind="a"} 4',
      'pc_latency_seconds_bucket{instance="db/1",job="pc",le="0.1"} 0',
      'pc_latency_seconds_bucket{instance="db/1",job="pc",le="1"} 2',
      'pc_latency_seconds_bucket{instance="db/1",job="pc",le="+Inf"} 2',
      'pc_latency_seconds_sum{instance="db/1",job="pc"} 1',
      'pc_latency_seconds_count{instance="db/1",job="pc"} 2',
      'pc_temp{instance="db/1",job="pc"} 21',
    ]);

    const other = registry();
    other.jobs.inc({ kind: "b" }, 1);
    await new Pushgateway(gateway.url, {}, other.reg).push({ jobName: "pc", groupings: { instance: "db/1" } });
    // The group is exactly the second registry now: kind="a" is gone, the unset gauge is 0 and the
    // histogram without observations is all zeros.
    expect(await sampleLines()).toEqual([
      'pc_jobs_total{instance="db/1",job="pc",kind="b"} 1',
      'pc_latency_seconds_bucket{instance="db/1",job="pc",le="0.1"} 0',
      'pc_latency_seconds_bucket{instance="db/1",job="pc",le="1"} 0',
      'pc_latency_seconds_bucket{instance="db/1",job="pc",le="+Inf"} 0',
      'pc_latency_seconds_sum{instance="db/1",job="pc"} 0',
      'pc_latency_seconds_count{instance="db/1",job="pc"} 0',
      'pc_temp{instance="db/1",job="pc"} 0',
    ]);

    const { resp } = (await client.delete({ jobName: "pc", groupings: { instance: "db/1" } })) as { resp: { statusCode?: number } };
    expect(resp.statusCode).toBe(202);
    expect(await sampleLines()).toEqual([]);
  });

  it("pushes an OpenMetrics registry (a body ending in # EOF with no content type)", async () => {
    const { reg, jobs } = registry(true);
    jobs.inc({ kind: "om" }, 3);
    await new Pushgateway(gateway.url, {}, reg).pushAdd({ jobName: "pcom" });
    // OpenMetrics adds nothing but _created (dropped): the gauge and histogram are there, zero.
    expect(await sampleLines()).toEqual([
      'pc_jobs_total{job="pcom",kind="om"} 3',
      'pc_latency_seconds_bucket{job="pcom",le="0.1"} 0',
      'pc_latency_seconds_bucket{job="pcom",le="1"} 0',
      'pc_latency_seconds_bucket{job="pcom",le="+Inf"} 0',
      'pc_latency_seconds_sum{job="pcom"} 0',
      'pc_latency_seconds_count{job="pcom"} 0',
      'pc_temp{job="pcom"} 0',
    ]);
  });
});

describe("Python prometheus_client", () => {
  /** Runs `script` with Debian's python3 and its prometheus_client; fails the test naming the package when absent. */
  function python(script: string): string {
    const python3 = requirePythonModule("prometheus_client", "python3-prometheus-client");
    return execFileSync(python3, ["-c", script], { encoding: "utf8", env: { ...process.env, GATEWAY: gateway.url } });
  }

  const prelude = `
import os
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, push_to_gateway, pushadd_to_gateway, delete_from_gateway
gw = os.environ["GATEWAY"]
def registry(n):
    reg = CollectorRegistry()
    c = Counter("py_jobs", "Jobs.", ["kind"], registry=reg)
    c.labels("a").inc(n)
    Gauge("py_temp", "Temp.", registry=reg).set(n * 10)
    h = Histogram("py_latency_seconds", "Latency.", buckets=[0.1, 1], registry=reg)
    h.observe(0.5)
    s = Summary("py_rpc_seconds", "RPC.", registry=reg)
    s.observe(2)
    return reg
key = {"path": "/var/tmp", "empty": ""}
`;

  it("pushadd_to_gateway aggregates, push_to_gateway replaces, delete_from_gateway removes (@base64 values)", async () => {
    python(`${prelude}
pushadd_to_gateway(gw, job="py/batch", registry=registry(1), grouping_key=key)
pushadd_to_gateway(gw, job="py/batch", registry=registry(2), grouping_key=key)
`);
    expect(await sampleLines()).toEqual([
      'py_jobs_total{job="py/batch",kind="a",path="/var/tmp"} 3',
      'py_latency_seconds_bucket{job="py/batch",path="/var/tmp",le="0.1"} 0',
      'py_latency_seconds_bucket{job="py/batch",path="/var/tmp",le="1"} 2',
      'py_latency_seconds_bucket{job="py/batch",path="/var/tmp",le="+Inf"} 2',
      'py_latency_seconds_sum{job="py/batch",path="/var/tmp"} 1',
      'py_latency_seconds_count{job="py/batch",path="/var/tmp"} 2',
      'py_rpc_seconds_sum{job="py/batch",path="/var/tmp"} 4',
      'py_rpc_seconds_count{job="py/batch",path="/var/tmp"} 2',
      'py_temp{job="py/batch",path="/var/tmp"} 20',
    ]);

    python(`${prelude}
push_to_gateway(gw, job="py/batch", registry=registry(5), grouping_key=key)
`);
    expect(await sampleLines()).toEqual([
      'py_jobs_total{job="py/batch",kind="a",path="/var/tmp"} 5',
      'py_latency_seconds_bucket{job="py/batch",path="/var/tmp",le="0.1"} 0',
      'py_latency_seconds_bucket{job="py/batch",path="/var/tmp",le="1"} 1',
      'py_latency_seconds_bucket{job="py/batch",path="/var/tmp",le="+Inf"} 1',
      'py_latency_seconds_sum{job="py/batch",path="/var/tmp"} 0.5',
      'py_latency_seconds_count{job="py/batch",path="/var/tmp"} 1',
      'py_rpc_seconds_sum{job="py/batch",path="/var/tmp"} 2',
      'py_rpc_seconds_count{job="py/batch",path="/var/tmp"} 1',
      'py_temp{job="py/batch",path="/var/tmp"} 50',
    ]);

    python(`${prelude}
delete_from_gateway(gw, job="py/batch", grouping_key=key)
`);
    expect(await sampleLines()).toEqual([]);
  });
});
