// Series lifecycle: expiry (TTL, alarm sweeps, stale markers), cumulative sources, histogram layout
// changes, and the per-family cardinality limit.
import { abortAllDurableObjects, createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { shardName } from "../src/aggregator/objects";
import type { Page } from "../src/aggregator/pages";
import Gateway from "../src/worker/entrypoint";
import { rejection, withoutSelfMetrics } from "./helpers";

const gw = exports.default;
const shard = (i = 0) => env.AGGREGATOR.getByName(shardName(i));

function gateway(overrides: Partial<Env> = {}): Gateway {
  return new Gateway(createExecutionContext(), { ...env, ...overrides });
}

function http(g: Gateway, path: string, init?: RequestInit): Promise<Response> {
  return g.fetch(new Request(`http://gateway${path}`, init));
}

async function lines(name: string, g: { scrape(): Promise<string> } = gw): Promise<string[]> {
  return withoutSelfMetrics(await g.scrape())
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `) || l.startsWith(`${name}_`));
}

function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(async () => {
  await gateway({ SHARDS: "4" }).delete("__all");
});

describe("expiry", () => {
  it("never serves a series past its TTL, removes it in the alarm's sweep, and counts it", async () => {
    const before = await gw.scrape();
    await gw.inc("short_total", { a: "1" }, 1, { ttlSeconds: 0.05 });
    await gw.inc("long_total", { a: "1" });
    // Read as of 10 s from now: the short series is already left out, before any sweep.
    const later = (await shard().read({ after: null, maxBytes: 1 << 20, now: Date.now() + 10_000 })) as unknown as Page;
    expect(later.families.map((f) => f.name)).toEqual(["long_total"]);
    await sleep(60);
    // The alarm was set for the expiry; it may have fired on its own already.
    await runDurableObjectAlarm(shard());
    expect(await lines("short_total")).toEqual([]);
    expect(await lines("long_total")).toEqual(['long_total{a="1"} 1']);
    const after = await gw.scrape();
    expect(metric(after, "metrics_gateway_series_expired_total") - metric(before, "metrics_gateway_series_expired_total")).toBe(1);
    expect(await shard().verify()).toEqual([]);
  });

  it("refreshes a series' expiry with every write (the TTL counts from the last write)", async () => {
    await gw.set("fresh", undefined, 1, { ttlSeconds: 10 });
    const firstDone = Date.now(); // the first write's expiry is at most this + 10 s
    await sleep(20);
    await gw.set("fresh", undefined, 2, { ttlSeconds: 10 }); // its expiry is at least 20 ms later
    // Read as of just after the first write's expiry: the second write moved it, so it is served.
    const page = (await shard().read({ after: null, maxBytes: 1 << 20, now: firstDone + 10_001 })) as unknown as Page;
    expect(page.families.map((f) => [f.name, [...(f.values as Float64Array)]])).toEqual([["fresh", [2]]]);
  });

  it("expires a Pushgateway group as a whole, measured from its last push (Metrics-TTL header)", async () => {
    const g = gateway();
    const put = await http(g, "/metrics/job/brief", { method: "PUT", body: "a 1\nb 2\n", headers: { "Metrics-TTL": "0.05" } });
    expect(put.status).toBe(200);
    expect(await lines("a", g)).toEqual(['a{job="brief"} 1']);
    await sleep(60);
    // Past its TTL the group is not served even before the sweep: neither its series nor its push times.
    const text = withoutSelfMetrics(await g.scrape());
    expect(text).not.toContain('job="brief"');
    await shard().sweep();
    const api = (await (await http(g, "/api/v1/metrics")).json()) as { data: unknown[] };
    expect(api.data).toEqual([]);
    expect(await shard().verify()).toEqual([]);
  });

  it("takes Metrics-TTL on PATCH; refuses Metrics-Source there (an increment is not a total), applying nothing", async () => {
    const g = gateway();
    const patch = (path: string, headers: Record<string, string>) => http(g, path, { method: "PATCH", headers });
    expect((await patch("/metrics/patched_total?c=de", { "Metrics-TTL": "0.5" })).status).toBe(204);
    // A TTL under a millisecond is still a TTL (it rounded to 0, "never").
    expect((await patch("/metrics/tiny_total", { "Metrics-TTL": "0.0004" })).status).toBe(204);
    expect((await patch("/metrics/kept_patched_total?c=de", {})).status).toBe(204);
    const refused = await patch("/metrics/patched_total?c=fr", { "Metrics-Source": "w1" });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string; message: string }).message).toContain("Metrics-Source");
    expect((await patch("/metrics/patched_total?c=it", { "Metrics-TTL": "soon" })).status).toBe(400);
    expect(await lines("patched_total", g)).toEqual(['patched_total{c="de"} 1']);
    await sleep(520);
    await shard().sweep();
    expect(await lines("patched_total", g)).toEqual([]);
    expect(await lines("tiny_total", g)).toEqual([]);
    expect(await lines("kept_patched_total", g)).toEqual(['kept_patched_total{c="de"} 1']);
  });

  it("starts an expired group or series anew when written before the sweep removed it (a late alarm, a sweep between chunks)", async () => {
    const g = gateway();
    const before = await g.scrape();
    const body = "# TYPE x_total counter\nx_total 1000\n# TYPE y gauge\ny 5\n";
    expect((await http(g, "/metrics/job/late", { method: "PUT", body, headers: { "Metrics-TTL": "0.5" } })).status).toBe(200);
    // The alarm is late: it does not fire at all during this test (the shard still believes it set).
    await runInDurableObject(shard(), (_instance, state) => state.storage.deleteAlarm());
    // A failed push sets the group's failure time (a type conflict: x_total is a counter).
    expect((await http(g, "/metrics/job/late", { method: "POST", body: "# TYPE x_total gauge\nx_total 1\n" })).status).toBe(409);
    expect(metric(await g.scrape(), 'push_failure_time_seconds{job="late"}')).toBeGreaterThan(0);
    await g.inc("solo_total", { a: "1" }, 7, { ttlSeconds: 0.5 });
    await sleep(520);
    // No sweep has run: the POST finds the group expired and starts it anew (x_total 1, y gone),
    // and the increment finds solo_total expired: it counts from 0.
    const post = await http(g, "/metrics/job/late", { method: "POST", body: "# TYPE x_total counter\nx_total 1\n", headers: { "Metrics-TTL": "10" } });
    expect(post.status).toBe(200);
    await g.inc("solo_total", { a: "1" }, 2, { ttlSeconds: 10 });
    expect(await lines("x_total", g)).toEqual(['x_total{job="late"} 1']);
    expect(await lines("y", g)).toEqual([]);
    expect(await lines("solo_total", g)).toEqual(['solo_total{a="1"} 2']);
    const after = await g.scrape();
    // Expired: y and solo_total's old value (x_total goes on with its new value, no stale marker).
    expect(metric(after, "metrics_gateway_series_expired_total") - metric(before, "metrics_gateway_series_expired_total")).toBe(2);
    // The group starts anew: no failure from before it expired.
    expect(metric(after, 'push_failure_time_seconds{job="late"}')).toBe(0);
    expect(await shard().verify()).toEqual([]);
    // The same after a restart: memory was what storage holds.
    await abortAllDurableObjects();
    expect(await lines("x_total", g)).toEqual(['x_total{job="late"} 1']);
    expect(await lines("solo_total", g)).toEqual(['solo_total{a="1"} 2']);
    expect(metric(await g.scrape(), 'push_failure_time_seconds{job="late"}')).toBe(0);
  });

  it("keeps an ungrouped series with a TTL on one shard, so it expires only when it is not written anywhere for its TTL (SHARDS=4)", async () => {
    const g = gateway({ SHARDS: "4" });
    // Written every 300 ms with a TTL of 1 s: in rotation over 4 shards each part would be written
    // every 1.2 s and expire on its own, taking its counts with it.
    for (let i = 0; i < 6; i++) {
      if (i > 0) await sleep(300);
      expect((await http(g, "/metrics/hits_total?r=a", { method: "PATCH", headers: { "Metrics-TTL": "1" } })).status).toBe(204);
    }
    await g.inc("hits_total", { r: "b" }, 1, { ttlSeconds: 1 });
    await g.batch([{ op: "inc", name: "hits_total", labels: { r: "c" }, value: 2, ttlSeconds: 1 }]);
    await gateway({ SHARDS: "4", SERIES_TTL_SECONDS: "1" }).inc("hits_total", { r: "d" });
    expect(await lines("hits_total", g)).toEqual(['hits_total{r="a"} 6', 'hits_total{r="b"} 1', 'hits_total{r="c"} 2', 'hits_total{r="d"} 1']);
    const holders: number[] = [];
    for (let i = 0; i < 4; i++) {
      const page = (await shard(i).read({ after: null, maxBytes: 1 << 20, now: Date.now() })) as unknown as Page;
      if (page.families.some((f) => f.name === "hits_total")) holders.push(i);
    }
    expect(holders).toHaveLength(1);
    // Ungrouped writes without a TTL still rotate over the shards.
    for (let i = 0; i < 8; i++) await g.inc("spread_total");
    let spread = 0;
    for (let i = 0; i < 4; i++) {
      const page = (await shard(i).read({ after: null, maxBytes: 1 << 20, now: Date.now() })) as unknown as Page;
      if (page.families.some((f) => f.name === "spread_total")) spread++;
    }
    expect(spread).toBeGreaterThan(1);
  });

  it("uses SERIES_TTL_SECONDS when a write gives none, and ttlSeconds 0 to keep a series forever", async () => {
    const g = gateway({ SERIES_TTL_SECONDS: "0.05" });
    await g.inc("default_total");
    await g.inc("kept_total", undefined, 1, { ttlSeconds: 0 });
    await sleep(60);
    await shard().sweep();
    expect(await lines("default_total", g)).toEqual([]);
    expect(await lines("kept_total", g)).toEqual(["kept_total 1"]);
  });

  it("rejects a TTL that is not a number of seconds from 0 to a year", async () => {
    for (const ttlSeconds of [-1, Number.NaN, 400 * 86400]) {
      expect((await rejection(gw.inc("bad_ttl_total", undefined, 1, { ttlSeconds }))).name).toBe("BadRequest");
    }
    const response = await http(gateway(), "/metrics", { method: "POST", body: "x 1\n", headers: { "Metrics-TTL": "soon" } });
    expect(response.status).toBe(400);
  });

  it("sweeps in chunks, so writes wait at most one chunk", async () => {
    const body = Array.from({ length: 5000 }, (_, i) => `bulk{i="${i}"} 1`).join("\n") + "\n";
    await gw.push(body, { ttlSeconds: 30 });
    // Swept as of a minute from now; a write in the middle of the sweep is applied between two chunks and survives.
    const sweeping = shard().sweep(Date.now() + 60_000, 1000);
    await gw.inc("during_total");
    expect(await sweeping).toBe(5000);
    const left = (await shard().read({ after: null, maxBytes: 1 << 20, now: 1 })) as unknown as Page;
    expect(left.families.map((f) => f.name)).toEqual(["during_total"]);
  });
});

describe("cumulative sources", () => {
  it("adds only each source's increase, and a restart (a lower value) whole", async () => {
    const push = (source: string, total: number, gauge: number) =>
      gw.push(`# TYPE jobs_total counter\njobs_total ${total}\n# TYPE queue gauge\nqueue ${gauge}\n`, { source });
    await push("p1", 5, 1);
    await push("p1", 8, 2);
    await push("p2", 4, 3);
    await push("p1", 2, 4); // p1 restarted: 2 counts whole
    await push("p2", 6, 5);
    expect(await lines("jobs_total")).toEqual(["jobs_total 16"]);
    expect(await lines("queue")).toEqual(["queue 5"]);
    // The sources' last values survive a restart of the gateway: no double count after it.
    await abortAllDurableObjects();
    await push("p1", 3, 6);
    expect(await lines("jobs_total")).toEqual(["jobs_total 17"]);
  });

  it("takes histogram and summary increases bucket by bucket, quantiles as pushed", async () => {
    const hist = (c1: number, c2: number, sum: number) =>
      `# TYPE lat histogram\nlat_bucket{le="1"} ${c1}\nlat_bucket{le="+Inf"} ${c2}\nlat_sum ${sum}\nlat_count ${c2}\n# TYPE rt summary\nrt{quantile="0.5"} ${sum}\nrt_sum ${sum}\nrt_count ${c2}\n`;
    await gw.push(hist(1, 2, 3), { source: "a" });
    await gw.push(hist(2, 4, 7), { source: "a" });
    await gw.push(hist(1, 1, 1), { source: "b" });
    expect(await lines("lat")).toEqual(['lat_bucket{le="1"} 3', 'lat_bucket{le="+Inf"} 5', "lat_sum 8", "lat_count 5"]);
    expect(await lines("rt")).toEqual(['rt{quantile="0.5"} 1', "rt_sum 8", "rt_count 5"]);
  });

  it("reads the source from Metrics-Source, or from SOURCE_LABEL in the grouping key (not stored)", async () => {
    const g = gateway({ SOURCE_LABEL: "instance" });
    for (const [instance, total] of [["a", 3], ["b", 5], ["a", 4], ["b", 1]] as const) {
      const r = await http(g, `/metrics/job/j/instance/${instance}`, { method: "POST", body: `# TYPE done_total counter\ndone_total ${total}\n` });
      expect(r.status).toBe(200);
    }
    // a: 3 then +1; b: 5 then restarted with 1: 3 + 1 + 5 + 1 = 10, one series without the instance label.
    expect(await lines("done_total", g)).toEqual(['done_total{job="j"} 10']);
    // DELETE naming a source forgets that source; the aggregate keeps what it counted.
    expect((await http(g, "/metrics/job/j/instance/a", { method: "DELETE" })).status).toBe(202);
    await http(g, "/metrics/job/j/instance/a", { method: "POST", body: "# TYPE done_total counter\ndone_total 2\n" });
    expect(await lines("done_total", g)).toEqual(['done_total{job="j"} 12']);
    const header = await http(gateway(), "/metrics", { method: "POST", body: "# TYPE hdr_total counter\nhdr_total 7\n", headers: { "Metrics-Source": "w1" } });
    expect(header.status).toBe(200);
    await http(gateway(), "/metrics", { method: "POST", body: "# TYPE hdr_total counter\nhdr_total 9\n", headers: { "Metrics-Source": "w1" } });
    expect(await lines("hdr_total")).toEqual(["hdr_total 9"]);
  });

  it("takes a source's PUT (push_to_gateway, prom-client push) as totals too: its increases count, what it did not push again is forgotten", async () => {
    const put = (path: string, body: string, headers: Record<string, string> = {}, g = gateway()) =>
      http(g, path, { method: "PUT", body, headers: { "Content-Type": "text/plain; version=0.0.4", ...headers } });
    // The same totals pushed three times: counted once.
    for (let i = 0; i < 3; i++) expect((await put("/metrics/job/src", "# TYPE sp2_total counter\nsp2_total 3\n", { "Metrics-Source": "h1" })).status).toBe(200);
    expect(await lines("sp2_total")).toEqual(['sp2_total{job="src"} 3']);
    // Then 5 (+2) with a second series; then only the second series: the first is forgotten by h1
    // (the aggregate keeps it), so when h1 pushes it again it counts whole (a restarted process).
    await put("/metrics/job/src", '# TYPE sp2_total counter\nsp2_total 5\nsp2_total{k="b"} 1\n', { "Metrics-Source": "h1" });
    await put("/metrics/job/src", '# TYPE sp2_total counter\nsp2_total{k="b"} 4\n', { "Metrics-Source": "h1" });
    expect(await lines("sp2_total")).toEqual(['sp2_total{job="src"} 5', 'sp2_total{job="src",k="b"} 4']);
    await put("/metrics/job/src", '# TYPE sp2_total counter\nsp2_total 2\nsp2_total{k="b"} 4\n', { "Metrics-Source": "h1" });
    expect(await lines("sp2_total")).toEqual(['sp2_total{job="src"} 7', 'sp2_total{job="src",k="b"} 4']);
    // SOURCE_LABEL: the instance in the grouping key is the source of a PUT as of a POST.
    const g = gateway({ SOURCE_LABEL: "instance" });
    for (const [instance, total] of [["a", 2], ["a", 2], ["b", 1], ["a", 3], ["b", 1]] as const) {
      expect((await put(`/metrics/job/putter/instance/${instance}`, `# TYPE put_total counter\nput_total ${total}\n`, {}, g)).status).toBe(200);
    }
    expect(await lines("put_total", g)).toEqual(['put_total{job="putter"} 4']);
    // Batched with other writes (one group commit): the same result as one by one.
    await Promise.all([1, 2, 3].map(() => put("/metrics/job/putter/instance/c", "# TYPE put_total counter\nput_total 6\n", {}, g)));
    expect(await lines("put_total", g)).toEqual(['put_total{job="putter"} 10']);
    // The sources' values survive a restart: the same totals again add nothing.
    await abortAllDurableObjects();
    await put("/metrics/job/putter/instance/c", "# TYPE put_total counter\nput_total 6\n", {}, g);
    await put("/metrics/job/src", '# TYPE sp2_total counter\nsp2_total 2\nsp2_total{k="b"} 4\n', { "Metrics-Source": "h1" });
    expect(await lines("put_total", g)).toEqual(['put_total{job="putter"} 10']);
    expect(await lines("sp2_total")).toEqual(['sp2_total{job="src"} 7', 'sp2_total{job="src",k="b"} 4']);
    // An empty PUT from the source forgets all of it: what it pushes next counts whole.
    expect((await put("/metrics/job/src", "", { "Metrics-Source": "h1" })).status).toBe(200);
    expect(await lines("sp2_total")).toEqual(['sp2_total{job="src"} 7', 'sp2_total{job="src",k="b"} 4']);
    await put("/metrics/job/src", '# TYPE sp2_total counter\nsp2_total 2\nsp2_total{k="b"} 4\n', { "Metrics-Source": "h1" });
    expect(await lines("sp2_total")).toEqual(['sp2_total{job="src"} 9', 'sp2_total{job="src",k="b"} 8']);
    await abortAllDurableObjects();
    await put("/metrics/job/src", '# TYPE sp2_total counter\nsp2_total 2\nsp2_total{k="b"} 4\n', { "Metrics-Source": "h1" });
    expect(await lines("sp2_total")).toEqual(['sp2_total{job="src"} 9', 'sp2_total{job="src",k="b"} 8']);
  });

  it("leaves every other shard's series alone on a source's replace without a group (it replaced the ungrouped writes there)", async () => {
    const g = gateway({ SHARDS: "4" });
    for (let i = 1; i <= 8; i++) await g.inc("ung_total", { i: String(i) });
    const all = Array.from({ length: 8 }, (_, i) => `ung_total{i="${i + 1}"} 1`).sort();
    await g.push("# TYPE src_total counter\nsrc_total 5\n", { source: "w1", mode: "replace" });
    expect((await lines("ung_total", g)).sort()).toEqual(all);
    expect(await lines("src_total", g)).toEqual(["src_total 5"]);
    // SOURCE_LABEL=job: the grouping key is empty once the source's label is taken out.
    const byJob = gateway({ SHARDS: "4", SOURCE_LABEL: "job" });
    const put = await http(byJob, "/metrics/job/worker1", { method: "PUT", body: "# TYPE src_total counter\nsrc_total 7\n" });
    expect(put.status).toBe(200);
    expect((await lines("ung_total", byJob)).sort()).toEqual(all);
    expect(await lines("src_total", byJob)).toEqual(["src_total 12"]);
  });

  it("forgets a source on DELETE where its values live, also when the source label was the whole grouping key", async () => {
    const g = gateway({ SHARDS: "4", SOURCE_LABEL: "job" });
    const put = (job: string) => http(g, `/metrics/job/${job}`, { method: "PUT", body: "# TYPE del_total counter\ndel_total 5\n" });
    const jobs = ["w1", "w2", "w3", "w4", "w5"];
    for (const job of jobs) expect((await put(job)).status).toBe(200);
    expect(await lines("del_total", g)).toEqual(["del_total 25"]);
    for (const job of jobs) expect((await http(g, `/metrics/job/${job}`, { method: "DELETE" })).status).toBe(202);
    // Forgotten: the same totals count whole again.
    for (const job of jobs) await put(job);
    expect(await lines("del_total", g)).toEqual(["del_total 50"]);
  });

  it("never changes a family's type for a source's PUT (which the shard refuses)", async () => {
    const g = gateway();
    expect((await http(g, "/metrics/job/A", { method: "PUT", body: "# TYPE m gauge\nm 1\n" })).status).toBe(200);
    const refused = await http(g, "/metrics/job/A", { method: "PUT", body: "# TYPE m counter\nm 2\n", headers: { "Metrics-Source": "h1" } });
    expect(refused.status).toBe(409);
    // Still a gauge everywhere: a new gauge series (asking the registry) is taken.
    expect((await http(g, "/metrics/job/A", { method: "POST", body: '# TYPE m gauge\nm{k="new"} 3\n' })).status).toBe(200);
    expect(await lines("m", g)).toEqual(['m{job="A"} 1', 'm{job="A",k="new"} 3']);
  });

  it("forgets a source's last values after SOURCE_TTL_SECONDS without changing the aggregate", async () => {
    await gw.push("# TYPE s_total counter\ns_total 5\n", { source: "old" });
    expect((await shard(0).sourceStats()).series + (await shard(1).sourceStats()).series + (await shard(2).sourceStats()).series + (await shard(3).sourceStats()).series).toBe(1);
    for (let i = 0; i < 4; i++) await shard(i).sweep(Date.now() + 3_601_000);
    let tracked = 0;
    for (let i = 0; i < 4; i++) tracked += (await shard(i).sourceStats()).series;
    expect(tracked).toBe(0);
    expect(await lines("s_total")).toEqual(["s_total 5"]);
  });
});

describe("histogram layout changes", () => {
  it("merges a rolling deploy's two layouts over the common bounds, across shards, losing no count or sum", async () => {
    const g = gateway({ SHARDS: "4" });
    // Old and new versions interleaved; ungrouped writes rotate over the four shards.
    for (let i = 0; i < 12; i++) {
      const buckets = i % 2 === 0 ? [0.1, 0.5, 1] : [0.1, 0.25, 1, 2];
      await g.observe("deploy_seconds", undefined, 0.5, buckets);
    }
    // Each shard holds one layout so far; the read merges them over the common bounds.
    expect(await lines("deploy_seconds", g)).toEqual(['deploy_seconds_bucket{le="0.1"} 0', 'deploy_seconds_bucket{le="1"} 12', 'deploy_seconds_bucket{le="+Inf"} 12', "deploy_seconds_sum 6", "deploy_seconds_count 12"]);
    // That scrape says so: the one series it merged over the common bounds (nothing stored narrowed yet).
    const first = await g.scrape();
    expect(metric(first, 'metrics_gateway_scrape_narrowed_series{family="deploy_seconds"}')).toBe(1);
    expect(first).not.toContain("metrics_gateway_histogram_layout_narrowed_total");
    // The 13th lands on shard 0 (old layout stored) with the new layout: the stored layout narrows there, counted.
    await g.observe("deploy_seconds", undefined, 2, [0.1, 0.25, 1, 2]);
    expect(await lines("deploy_seconds", g)).toEqual(['deploy_seconds_bucket{le="0.1"} 0', 'deploy_seconds_bucket{le="1"} 12', 'deploy_seconds_bucket{le="+Inf"} 13', "deploy_seconds_sum 8", "deploy_seconds_count 13"]);
    expect(metric(await g.scrape(), 'metrics_gateway_histogram_layout_narrowed_total{family="deploy_seconds"}')).toBe(1);
    const status = (await (await http(g, "/api/v1/status")).json()) as { data: { histogram_layouts_narrowed: Record<string, number> } };
    expect(Object.keys(status.data.histogram_layouts_narrowed)).toEqual(["deploy_seconds"]);
  });
});

describe("cardinality", () => {
  it("rejects a push taking a family past MAX_SERIES_PER_FAMILY across shards (413, nothing applied), still writes existing series", async () => {
    const g = gateway({ SHARDS: "4", MAX_SERIES_PER_FAMILY: "5" });
    for (let i = 0; i < 5; i++) await g.inc("users_total", { user: String(i) });
    const before = await g.scrape();
    const error = await rejection(g.push('# TYPE users_total counter\nusers_total{user="0"} 1\nusers_total{user="new"} 1\n'));
    expect(error.name).toBe("LimitExceeded");
    expect(error.message).toBe(
      'metric "users_total" holds 5 series across all shards; this push would add 1 more, over the limit of 5 (MAX_SERIES_PER_FAMILY). Existing series can still be written; look for a label with unbounded values (a user id, a URL) and drop it, or raise the limit',
    );
    const after = await g.scrape();
    expect(await lines("users_total", g)).toEqual(['users_total{user="0"} 1', 'users_total{user="1"} 1', 'users_total{user="2"} 1', 'users_total{user="3"} 1', 'users_total{user="4"} 1']);
    const reason = 'metrics_gateway_pushes_rejected_total{reason="family_cardinality"}';
    expect(metric(after, reason) - metric(before, reason)).toBe(1);
    // Existing series of the family can still be written, on any shard.
    for (let i = 0; i < 8; i++) await g.inc("users_total", { user: String(i % 5) });
    expect(await lines("users_total", g)).toEqual(['users_total{user="0"} 3', 'users_total{user="1"} 3', 'users_total{user="2"} 3', 'users_total{user="3"} 2', 'users_total{user="4"} 2']);
  });

  it("lets a group's PUT at the limit swap its series for others (it removes what it does not carry again)", async () => {
    const g = gateway({ SHARDS: "4", MAX_SERIES_PER_FAMILY: "5" });
    for (let i = 0; i < 4; i++) await g.inc("users_total", { u: `x${i}` });
    const put = (body: string) => http(g, "/metrics/job/c", { method: "PUT", body: `# TYPE users_total counter\n${body}` });
    expect((await put('users_total{u="a"} 1\n')).status).toBe(200);
    expect((await put('users_total{u="b"} 1\n')).status).toBe(200);
    expect((await lines("users_total", g)).filter((l) => l.includes('job="c"'))).toEqual(['users_total{job="c",u="b"} 1']);
    // Still over when it would hold more than it frees.
    const over = await put('users_total{u="c"} 1\nusers_total{u="d"} 1\n');
    expect(over.status).toBe(413);
    expect(((await over.json()) as { message: string }).message).toContain("this push would add 2 more and remove 1, over the limit of 5");
    expect((await lines("users_total", g)).filter((l) => l.includes('job="c"'))).toEqual(['users_total{job="c",u="b"} 1']);
    // The family is back at 5 in the registry's count: a new ungrouped series is still refused.
    expect((await rejection(g.inc("users_total", { u: "y" }))).name).toBe("LimitExceeded");
  });

  it("forgets in the registry what a PUT admitted and a later PUT of the same batch replaced (types, series counts, the limit)", async () => {
    const g = gateway({ SHARDS: "4", MAX_SERIES_PER_FAMILY: "50" });
    // Concurrent PUTs of one group reach its shard as one batch: each replaces the one before.
    const puts = await Promise.all(
      Array.from({ length: 10 }, (_, i) => http(g, "/metrics/job/gh", { method: "PUT", body: `# TYPE ghost_${i} gauge\nghost_${i} ${i}\n# TYPE seven gauge\n${Array.from({ length: 7 }, (_, k) => `seven{p="${i}",k="${k}"} 1`).join("\n")}\n` })),
    );
    expect(await Promise.all(puts.map(async (r) => `${r.status} ${r.status === 200 ? "" : await r.text()}`))).toEqual(Array(10).fill("200 "));
    const held = (await lines("ghost", g)).map((l) => l.slice(0, l.indexOf("{")));
    expect(held).toHaveLength(1);
    // The registry learns of it right after the batch (a call of its own): wait for it.
    const counts = async () => ((await (await http(g, "/api/v1/status")).json()) as { data: { series: number } }).data.series;
    for (let i = 0; i < 50 && (await counts()) !== 8; i++) await sleep(10);
    expect(await counts()).toBe(8);
    // Seven series at a time, again and again: never near the limit of 50.
    for (let round = 0; round < 3; round++) {
      const again = await Promise.all(Array.from({ length: 10 }, (_, i) => http(g, "/metrics/job/gh", { method: "PUT", body: `# TYPE seven gauge\n${Array.from({ length: 7 }, (_, k) => `seven{p="${round}-${i}",k="${k}"} 1`).join("\n")}\n` })));
      expect(again.map((r) => r.status)).toEqual(Array(10).fill(200));
      for (let i = 0; i < 50 && (await counts()) !== 7; i++) await sleep(10);
    }
    // Nothing holds the replaced families: any type can have their names.
    expect((await http(g, "/api/v1/admin/wipe", { method: "PUT" })).status).toBe(202);
    for (let i = 0; i < 10; i++) {
      const r = await http(g, "/metrics", { method: "POST", body: `# TYPE ghost_${i} counter\nghost_${i} 1\n` });
      expect(`ghost_${i} ${r.status}`).toBe(`ghost_${i} 200`);
    }
  });

  it("lists the ten families with the most series on the status page and in /api/v1/status", async () => {
    const g = gateway({ SHARDS: "4" });
    for (let f = 0; f < 12; f++) {
      const body = Array.from({ length: f + 1 }, (_, i) => `fam${String(f).padStart(2, "0")}{i="${i}"} 1`).join("\n") + "\n";
      await g.push(body);
    }
    const status = (await (await http(g, "/api/v1/status")).json()) as { data: { top_families: { name: string; series: number }[] } };
    expect(status.data.top_families.map((f) => `${f.name}:${f.series}`)).toEqual(["fam11:12", "fam10:11", "fam09:10", "fam08:9", "fam07:8", "fam06:7", "fam05:6", "fam04:5", "fam03:4", "fam02:3"]);
    const page = await (await http(g, "/")).text();
    expect(page).toContain('<table id="top">');
    expect(page).toContain("<tr><td><code>fam11</code></td><td class=\"n\">12</td></tr>");
  });
});
