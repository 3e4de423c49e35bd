import { abortAllDurableObjects } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { compress } from "snappyjs";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { rejection, withoutSelfMetrics } from "./helpers";

const gw = exports.default;

function call(path: string, init?: RequestInit): Promise<Response> {
  return gw.fetch(new Request(`http://gateway${path}`, init));
}

async function scrape(): Promise<string> {
  return withoutSelfMetrics(await (await call("/metrics")).text());
}

/** Only the lines of one family's samples. */
async function samples(name: string): Promise<string[]> {
  return (await scrape()).split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

beforeEach(async () => {
  await call("/api/v1/admin/wipe", { method: "PUT" });
});

describe("grouping key routes", () => {
  it("adds the grouping labels to every series, overriding the body's", async () => {
    const r = await call("/metrics/job/nightly/instance/db1", { method: "POST", body: 'rows_total{instance="other",table="t"} 5\n' });
    expect(r.status).toBe(200);
    expect(await samples("rows_total")).toEqual(['rows_total{instance="db1",job="nightly",table="t"} 5']);
  });

  it("POST aggregates into the group with the core rules", async () => {
    const body = "# TYPE c counter\nc 2\n# TYPE g gauge\ng 7\n";
    await call("/metrics/job/a", { method: "POST", body });
    await call("/metrics/job/a", { method: "POST", body: body.replace("g 7", "g 1") });
    expect(await samples("c")).toEqual(['c{job="a"} 4']);
    expect(await samples("g")).toEqual(['g{job="a"} 1']);
  });

  it("PUT replaces exactly the group's series; other groups are untouched", async () => {
    await call("/metrics/job/a", { method: "POST", body: "x 1\ny 1\n" });
    await call("/metrics/job/b", { method: "POST", body: "x 1\n" });
    await call("/metrics/job/a", { method: "PUT", body: "x 5\n" });
    expect(await samples("x")).toEqual(['x{job="a"} 5', 'x{job="b"} 1']);
    expect(await samples("y")).toEqual([]);
    // An empty PUT empties the group but keeps its push time.
    await call("/metrics/job/a", { method: "PUT", body: "" });
    expect(await samples("x")).toEqual(['x{job="b"} 1']);
    expect(await samples("push_time_seconds")).toHaveLength(2);
  });

  it("remembers which group wrote which series across an eviction", async () => {
    await call("/metrics/job/a", { method: "POST", body: "x 1\ny 1\n" });
    const before = await scrape();
    await abortAllDurableObjects();
    expect(await scrape()).toBe(before);
    await call("/metrics/job/a", { method: "PUT", body: "x 2\n" });
    expect(await samples("x")).toEqual(['x{job="a"} 2']);
    expect(await samples("y")).toEqual([]);
  });

  it("keeps a family a PUT re-populated with other label sets across an eviction", async () => {
    await call("/metrics/job/a", { method: "PUT", body: '# HELP x Help.\n# TYPE x gauge\nx{pod="a"} 1\n' });
    await call("/metrics/job/a", { method: "PUT", body: '# TYPE x gauge\nx{pod="b"} 2\n' });
    await abortAllDurableObjects();
    expect(await samples("x")).toEqual(['x{job="a",pod="b"} 2']);
    expect(await scrape()).toContain("# HELP x Help.\n");
  });

  it("lets a family emptied by a group delete or a labelled delete come back with another type", async () => {
    await call("/metrics/job/a", { method: "PUT", body: "# TYPE m2 counter\nm2 1\n" });
    expect((await call("/metrics/job/a", { method: "DELETE" })).status).toBe(202);
    expect((await call("/metrics/job/a", { method: "PUT", body: "# TYPE m2 gauge\nm2 3\n" })).status).toBe(200);
    await call("/metrics", { method: "POST", body: '# TYPE m3 counter\nm3{x="1"} 1\n' });
    await call("/metrics/m3?x=1", { method: "DELETE" });
    expect((await call("/metrics", { method: "POST", body: "# TYPE m3 gauge\nm3 2\n" })).status).toBe(200);
    // While another group still holds it, the type stays.
    await call("/metrics/job/b", { method: "PUT", body: "# TYPE m4 counter\nm4 1\n" });
    await call("/metrics/job/c", { method: "PUT", body: "# TYPE m4 counter\nm4 1\n" });
    await call("/metrics/job/b", { method: "DELETE" });
    expect((await call("/metrics/job/b", { method: "PUT", body: "# TYPE m4 gauge\nm4 1\n" })).status).toBe(409);
  });

  it("PUT may change a family's type when the group held all of it", async () => {
    await call("/metrics/job/a", { method: "PUT", body: "# TYPE m counter\nm 1\n" });
    await call("/metrics/job/a", { method: "PUT", body: "# TYPE m gauge\nm 3\n" });
    expect(await scrape()).toContain('# TYPE m gauge\nm{job="a"} 3\n');
    await call("/metrics/job/b", { method: "PUT", body: "# TYPE m gauge\nm 1\n" });
    const conflict = await call("/metrics/job/a", { method: "PUT", body: "# TYPE m counter\nm 1\n" });
    expect(conflict.status).toBe(409);
  });

  it("DELETE removes the group's series with 202", async () => {
    await call("/metrics/job/a/instance/1", { method: "POST", body: "x 1\n" });
    await call("/metrics/job/a/instance/2", { method: "POST", body: "x 1\n" });
    const r = await call("/metrics/job/a/instance/1", { method: "DELETE" });
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({ deleted: 1 });
    expect(await samples("x")).toEqual(['x{instance="2",job="a"} 1']);
    expect((await samples("push_time_seconds")).length).toBe(1);
  });

  it("reads @base64 segments (padding optional, '=' is empty) and %2F as a slash", async () => {
    const b64 = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    await call(`/metrics/job@base64/${b64("a/b")}/path@base64/${b64("/var/tmp")}=/empty@base64/=`, { method: "POST", body: "z 1\n" });
    await call("/metrics/job/x%2Fy", { method: "POST", body: "z 1\n" });
    expect(await samples("z")).toEqual(['z{job="a/b",path="/var/tmp"} 1', 'z{job="x/y"} 1']);
  });

  it.each([
    ["/metrics/job/a/instance", "odd number of segments"],
    ["/metrics/job/a//v", "empty"],
    ["/metrics/job/a/__name__/v", "reserves"],
    ["/metrics/job/a/b/1/b/2", "twice"],
    ["/metrics/job/%E0%A4%A", "percent-encoding"],
    ["/metrics/job@base64/***", "base64url"],
  ])("rejects %s with 400", async (path, why) => {
    const r = await call(path, { method: "POST", body: "z 1\n" });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toContain(why);
    expect(await samples("z")).toEqual([]);
  });

  it("sets push_time_seconds on success and push_failure_time_seconds on a failed push", async () => {
    const before = Date.now() / 1000;
    await call("/metrics/job/a", { method: "POST", body: "# TYPE q gauge\nq 1\n" });
    const bad = await call("/metrics/job/a", { method: "POST", body: "# TYPE q counter\nq 1\n" });
    expect(bad.status).toBe(409);
    const parse = await call("/metrics/job/a", { method: "POST", body: "q{ 1\n" });
    expect(parse.status).toBe(400);
    const text = await scrape();
    const push = Number(/push_time_seconds\{job="a"\} (\S+)/.exec(text)?.[1]);
    const failure = Number(/push_failure_time_seconds\{job="a"\} (\S+)/.exec(text)?.[1]);
    expect(push).toBeGreaterThanOrEqual(Math.floor(before));
    expect(failure).toBeGreaterThanOrEqual(push);
    expect(text).toContain("# TYPE push_time_seconds gauge\n");
  });

  it("rejects pushes of the reserved push time names", async () => {
    const r = await call("/metrics/job/a", { method: "POST", body: "push_time_seconds 1\n" });
    expect(r.status).toBe(400);
  });

  it("refuses an le label on a histogram and a quantile label on a summary, from the grouping key, the body or RPC (the lines would carry it twice)", async () => {
    const before = await scrape();
    const summary = "# TYPE ss summary\nss{quantile=\"0.5\"} 1\nss_sum 1\nss_count 2\n";
    const histogram = '# TYPE hh histogram\nhh_bucket{le="1"} 1\nhh_bucket{le="+Inf"} 2\nhh_sum 3\nhh_count 2\n';
    const refused = [
      await call("/metrics/job/sx/quantile/5", { method: "PUT", body: summary }),
      await call("/metrics/job/hx/le/5", { method: "PUT", body: histogram }),
      await call("/metrics/job/hb", { method: "POST", body: '# TYPE hb histogram\nhb_sum{le="x"} 3\nhb_count{le="x"} 2\n' }),
    ];
    for (const r of refused) {
      expect(r.status).toBe(400);
      const e = (await r.json()) as { error: string; message: string };
      expect(e.error, e.message).toBe("InvalidName");
    }
    expect((await rejection(gw.observe("ho", { le: "1" }, 0.5))).name).toBe("InvalidName");
    expect(await scrape()).toBe(before);
    // A value that ends in ",le=" is no le label.
    const tricky = '# TYPE hp histogram\nhp_bucket{path="/q,le=",le="+Inf"} 2\nhp_sum{path="/q,le="} 3\nhp_count{path="/q,le="} 2\n';
    expect((await call("/metrics/job/hp", { method: "PUT", body: tricky })).status).toBe(200);
    expect(await samples("hp_count")).toEqual(['hp_count{job="hp",path="/q,le="} 2']);
    // The same labels on other types are ordinary labels.
    expect((await call("/metrics/job/ok/le/5", { method: "PUT", body: "# TYPE g gauge\ng 1\n" })).status).toBe(200);
    expect(await samples("g")).toEqual(['g{job="ok",le="5"} 1']);
  });

  it("drops the Python client's _created gauges and never sums them", async () => {
    const body = [
      "# HELP jobs_total Jobs.",
      "# TYPE jobs_total counter",
      "jobs_total 3.0",
      "# HELP jobs_created Jobs.",
      "# TYPE jobs_created gauge",
      "jobs_created 1.7e+09",
      "# TYPE lat histogram",
      'lat_bucket{le="+Inf"} 1.0',
      "lat_count 1.0",
      "lat_sum 0.5",
      "# TYPE lat_created gauge",
      "lat_created 1.7e+09",
      "# TYPE standalone_created gauge",
      "standalone_created 4",
      "",
    ].join("\n");
    await call("/metrics/job/py", { method: "PUT", body });
    const text = await scrape();
    expect(text).toContain('jobs_total{job="py"} 3\n');
    expect(text).not.toContain("jobs_created");
    expect(text).not.toContain("lat_created");
    expect(text).toContain('standalone_created{job="py"} 4\n');
  });

  it("answers 405 with Allow for other methods", async () => {
    const r = await call("/metrics/job/a", { method: "GET" });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("PUT, POST, DELETE");
  });
});

describe("push bodies", () => {
  it("reads OpenMetrics with no content type when the body ends in # EOF", async () => {
    await call("/metrics/job/om", { method: "POST", body: "# TYPE hits counter\nhits_total 2\nhits_created 1.7e9\n# EOF\n" });
    expect(await samples("hits_total")).toEqual(['hits_total{job="om"} 2']);
  });

  it("reads delimited protobuf built from the io.prometheus.client .proto (the Go client's default)", async () => {
    const body = new Uint8Array(inject("protobufPush"));
    const r = await call("/metrics/job/go/instance/x", {
      method: "PUT",
      headers: { "Content-Type": "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited" },
      body,
    });
    expect(r.status, await r.clone().text()).toBe(200);
    const text = await scrape();
    expect(text).toContain('# HELP go_jobs_total Jobs run.\n# TYPE go_jobs_total counter\ngo_jobs_total{instance="x",job="go",kind="a"} 3\n');
    expect(text).toContain('go_temp{instance="x",job="go"} -1.5\n');
    expect(text).toContain('go_latency_seconds_bucket{instance="x",job="go",le="0.1"} 1\n');
    expect(text).toContain('go_latency_seconds_bucket{instance="x",job="go",le="+Inf"} 4\n');
    expect(text).toContain('go_latency_seconds_sum{instance="x",job="go"} 2.5\n');
    expect(text).toContain('go_rpc_seconds{instance="x",job="go",quantile="0.5"} 0.2\n');
    expect(text).toContain('go_rpc_seconds_count{instance="x",job="go"} 10\n');
  });

  it("rejects protobuf that is not delimited, and unknown media types, with 415", async () => {
    const r = await call("/metrics/job/a", { method: "POST", headers: { "Content-Type": "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=text" }, body: "x" });
    expect(r.status).toBe(415);
    const other = await call("/metrics/job/a", { method: "POST", headers: { "Content-Type": "application/xml" }, body: "x" });
    expect(other.status).toBe(415);
  });

  it("reads gzip and snappy bodies", async () => {
    const gz = await new Response(new Blob(["gz_total 1\n"]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
    expect((await call("/metrics/job/c", { method: "POST", headers: { "Content-Encoding": "gzip" }, body: gz })).status).toBe(200);
    const sn = compress(new TextEncoder().encode("sn_total 1\n"));
    expect((await call("/metrics/job/c", { method: "POST", headers: { "Content-Encoding": "snappy" }, body: sn })).status).toBe(200);
    expect(await samples("gz_total")).toEqual(['gz_total{job="c"} 1']);
    expect(await samples("sn_total")).toEqual(['sn_total{job="c"} 1']);
  });

  it("answers 413 for a snappy body that decompresses past the limit", async () => {
    const bomb = compress(new Uint8Array(2 * 1024 * 1024).fill(35));
    expect(bomb.byteLength).toBeLessThan(200_000);
    const r = await call("/metrics/job/c", { method: "POST", headers: { "Content-Encoding": "snappy" }, body: bomb });
    expect(r.status).toBe(413);
  });
});

describe("operators' API", () => {
  it("lists groups like the Pushgateway's /api/v1/metrics", async () => {
    await call("/metrics/job/a/instance/i", { method: "POST", body: "# HELP c Help.\n# TYPE c counter\nc{x=\"1\"} 2\n" });
    await gw.inc("loose_total");
    const body = (await (await call("/api/v1/metrics")).json()) as { status: string; data: Record<string, unknown>[] };
    expect(body.status).toBe("success");
    const group = body.data.find((g) => (g.labels as Record<string, string>).job === "a");
    expect(group).toMatchObject({
      labels: { job: "a", instance: "i" },
      last_push_successful: true,
      c: { type: "COUNTER", help: "Help.", metrics: [{ labels: { instance: "i", job: "a", x: "1" }, value: "2" }] },
    });
    const ungrouped = body.data.find((g) => Object.keys(g.labels as object).length === 0);
    expect(ungrouped).toMatchObject({ loose_total: { type: "COUNTER" } });
  });

  it("reports status and wipes everything", async () => {
    await call("/metrics/job/a", { method: "POST", body: "x 1\n" });
    const status = (await (await call("/api/v1/status")).json()) as { data: { series: number; groups: number; version: string } };
    expect(status.data).toMatchObject({ series: 1, groups: 1 });
    expect(status.data.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await call("/api/v1/admin/wipe", { method: "PUT" })).status).toBe(202);
    expect(await scrape()).toBe("");
  });
});

describe("RPC groups", () => {
  it("pushes into a group with mode replace and deletes the group", async () => {
    await gw.push("a 1\nb 1\n", { group: { job: "rpc" } });
    await gw.push("a 4\n", { group: { job: "rpc" }, mode: "replace" });
    expect(await samples("a")).toEqual(['a{job="rpc"} 4']);
    expect(await samples("b")).toEqual([]);
    expect(await gw.deleteGroup({ job: "rpc" })).toEqual({ deleted: 1 });
    expect(await samples("a")).toEqual([]);
    const bad = await rejection(gw.push("a 1\n", { mode: "merge" as "replace" }));
    expect(bad.name).toBe("BadRequest");
  });
});
