import { abortAllDurableObjects, createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { shardForGroup, shardName } from "../src/aggregator/objects";
import { labelKey } from "../src/common/labels";
import Gateway from "../src/worker/entrypoint";
import { pageBytesFor, READ_BYTES_IN_FLIGHT } from "../src/worker/merge-pages";
import { allShards } from "../src/worker/shards";
import { rejection, withoutSelfMetrics } from "./helpers";

/** The gateway as deployed with SHARDS = n (the entrypoint class, called directly). */
function gateway(shards: number): Gateway {
  return new Gateway(createExecutionContext(), { ...env, SHARDS: String(shards) });
}

/** Whether shard `i` holds any series of a family. */
async function holds(i: number, family: string): Promise<boolean> {
  return (await env.AGGREGATOR.getByName(shardName(i)).holding([family]))[0] === true;
}

function http(g: Gateway, path: string, init?: RequestInit): Promise<Response> {
  return g.fetch(new Request(`http://gateway${path}`, init));
}

/** One family's sample lines. */
async function lines(g: Gateway, name: string): Promise<string[]> {
  return withoutSelfMetrics(await g.scrape())
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

beforeEach(async () => {
  await gateway(5).delete("__all");
});

describe("sharded aggregators", () => {
  it("spreads one hot counter over shards, merges it exactly, and loses nothing when SHARDS changes", async () => {
    const four = gateway(4);
    // Sequential calls each close their own batch, so they rotate over the shards.
    for (let i = 0; i < 8; i++) await four.inc("hot_total", { route: "/" });
    const holders = await Promise.all([0, 1, 2, 3].map((s) => holds(s, "hot_total")));
    expect(holders).toEqual([true, true, true, true]);
    expect(await lines(four, "hot_total")).toEqual(['hot_total{route="/"} 8']);

    const two = gateway(2);
    await Promise.all(Array.from({ length: 10 }, () => two.inc("hot_total", { route: "/" })));
    expect(await lines(two, "hot_total")).toEqual(['hot_total{route="/"} 18']);

    const three = gateway(3);
    await three.inc("hot_total", { route: "/" }, 2);
    // Shard 3 is no longer written to, but reads still cover it.
    expect(await lines(three, "hot_total")).toEqual(['hot_total{route="/"} 20']);
    expect(await three.scrape()).toContain("metrics_gateway_series 1\n");
  });

  it("takes the most recent gauge value and summary quantiles across shards, and adds histograms and summary sums", async () => {
    const four = gateway(4);
    for (const v of [1, 2, 3, 4, 5]) await four.set("temp_celsius", { room: "a" }, v);
    for (const v of [0.1, 0.2, 0.3, 5]) await four.observe("lat_seconds", undefined, v, [0.25, 1]);
    // Four ungrouped pushes land on four shards; the last one's quantiles win, sums and counts add.
    for (const [q, sum] of [[1, 10], [2, 20], [3, 30], [4, 40]] as const) {
      await four.push(`# TYPE rt summary\nrt{quantile="0.5"} ${q}\nrt_sum ${sum}\nrt_count 1\n`);
    }
    const text = withoutSelfMetrics(await four.scrape());
    expect(text).toContain('temp_celsius{room="a"} 5\n');
    expect(text).toContain('lat_seconds_bucket{le="0.25"} 2\nlat_seconds_bucket{le="1"} 3\nlat_seconds_bucket{le="+Inf"} 4\nlat_seconds_sum 5.6\nlat_seconds_count 4\n');
    expect(text).toContain('rt{quantile="0.5"} 4\nrt_sum 100\nrt_count 4\n');
  });

  it("rejects a type conflict with data on another shard at push time", async () => {
    const four = gateway(4);
    await four.push("# TYPE clash counter\nclash 1\n", { group: { job: "a" } });
    const other = ["b", "c", "d", "e", "f", "g"].find((job) => shardForGroup(labelKey(["job", job]), 4) !== shardForGroup(labelKey(["job", "a"]), 4)) ?? "";
    const error = await rejection(four.push("# TYPE clash gauge\nclash 1\n", { group: { job: other } }));
    expect(error.name).toBe("TypeConflict");
    expect(withoutSelfMetrics(await four.scrape())).not.toContain("# TYPE clash gauge");
    // Deleting the family everywhere frees the name for another type.
    expect(await four.delete("clash")).toEqual({ deleted: 1 });
    await four.set("clash", undefined, 2);
    expect(withoutSelfMetrics(await four.scrape())).toContain("# TYPE clash gauge\nclash 2\n");
  });

  it("deletes across shards, counting a series held in parts on several shards once", async () => {
    const four = gateway(4);
    // Rotation puts i="0" on shards 0 and 2, i="1" on shards 1 and 3.
    for (let i = 0; i < 4; i++) await four.inc("gone_total", { i: String(i % 2) });
    expect(await four.delete("gone_total", { i: "0" })).toEqual({ deleted: 1 });
    expect(await lines(four, "gone_total")).toEqual(['gone_total{i="1"} 2']);
  });

  it("serves the operators' API merged across shards", async () => {
    const four = gateway(4);
    for (let i = 0; i < 4; i++) await four.inc("api_total");
    const response = await http(four, "/api/v1/metrics");
    const body = (await response.json()) as { data: Record<string, { metrics?: { value: string }[] }>[] };
    const ungrouped = body.data.find((g) => g.api_total !== undefined);
    expect(ungrouped?.api_total?.metrics).toEqual([{ labels: {}, value: "4" }]);
  });
});

describe("a series belongs to one group, whatever SHARDS is", () => {
  // The reproduction: four ungrouped pushes of one label set (spread over shards), then a
  // Pushgateway PUT and DELETE of the group with the same labels.
  it.each([1, 2, 3, 4, 5])("gives the same results with SHARDS=%i", async (shards) => {
    const g = gateway(shards);
    for (let i = 0; i < 4; i++) expect((await http(g, "/metrics", { method: "POST", body: 'mm{job="g"} 5\n' })).status).toBe(200);
    expect(await lines(g, "mm")).toEqual(['mm{job="g"} 20']);

    const put = await http(g, "/metrics/job/g", { method: "PUT", body: "mm 1\n" });
    expect(put.status).toBe(409);
    const body = (await put.json()) as { error: string; message: string };
    expect(body.error).toBe("Conflict");
    expect(body.message).toBe(
      'series mm{job="g"} is held by the ungrouped writes (POST /metrics, PATCH, RPC); the group {job="g"} cannot write it: a series belongs to one group (delete it there first)',
    );
    expect(await lines(g, "mm")).toEqual(['mm{job="g"} 20']);
    const del = await http(g, "/metrics/job/g", { method: "DELETE" });
    expect(del.status).toBe(202);
    expect(await del.json()).toEqual({ deleted: 0 });
    expect(await lines(g, "mm")).toEqual(['mm{job="g"} 20']);

    // Deleted where it lives, the series can join the group; then ungrouped writes cannot take it.
    expect(await g.delete("mm", { job: "g" })).toEqual({ deleted: 1 });
    expect((await http(g, "/metrics/job/g", { method: "PUT", body: "mm 1\n" })).status).toBe(200);
    expect(await lines(g, "mm")).toEqual(['mm{job="g"} 1']);
    const back = await http(g, "/metrics", { method: "POST", body: 'mm{job="g"} 5\n' });
    expect(back.status).toBe(409);
    expect((await rejection(g.push('mm{job="g"} 5\n'))).name).toBe("Conflict");
    expect(await lines(g, "mm")).toEqual(['mm{job="g"} 1']);
    expect(await (await http(g, "/metrics/job/g", { method: "DELETE" })).json()).toEqual({ deleted: 1 });
    expect(await lines(g, "mm")).toEqual([]);
    expect(await g.scrape()).not.toContain("push_time_seconds");
  });

  it("rejects a series two groups would share (as the Pushgateway rejects inconsistent pushes)", async () => {
    const four = gateway(4);
    expect((await http(four, "/metrics/job/j", { method: "PUT", body: 'x{instance="i"} 1\n' })).status).toBe(200);
    const clash = await http(four, "/metrics/job/j/instance/i", { method: "PUT", body: "x 2\n" });
    expect(clash.status).toBe(409);
    expect(((await clash.json()) as { message: string }).message).toContain('is held by the group {job="j"}');
    expect(await lines(four, "x")).toEqual(['x{instance="i",job="j"} 1']);
  });

  it("keeps __all for deleting everything: it cannot be a metric name", async () => {
    const four = gateway(4);
    expect((await rejection(four.inc("__all"))).name).toBe("InvalidName");
    expect((await http(four, "/metrics", { method: "POST", body: "__all 1\n" })).status).toBe(400);
    expect((await http(four, "/metrics/__all", { method: "PATCH" })).status).toBe(405);
  });
});

describe("rendered text kept by a shard", () => {
  const TEXT = { openmetrics: false, escaping: "underscores" } as const;
  const job = (i: number): string => `render${i}`;
  /** Two jobs whose groups live on different shards (of 4). */
  const [a, b] = (() => {
    const names = Array.from({ length: 20 }, (_, i) => job(i));
    const first = names[0] ?? "";
    const other = names.find((n) => shardForGroup(labelKey(["job", n]), 4) !== shardForGroup(labelKey(["job", first]), 4)) ?? "";
    return [first, other];
  })();
  const shardOf = (name: string) => env.AGGREGATOR.getByName(shardName(shardForGroup(labelKey(["job", name]), 4)));

  it("serves a family one shard holds from its kept text until the family changes", async () => {
    const four = gateway(4);
    expect((await http(four, `/metrics/job/${a}`, { method: "PUT", body: 'kept_total{a="1"} 1\nkept_total{a="2"} 2\n' })).status).toBe(200);
    expect(await lines(four, "kept_total")).toEqual([`kept_total{a="1",job="${a}"} 1`, `kept_total{a="2",job="${a}"} 2`]);
    expect((await shardOf(a).catalog()).renderedBytes).toBeGreaterThan(0);
    // A change of a value, a new series, a removed series: each is in the next scrape.
    expect((await http(four, `/metrics/job/${a}`, { method: "POST", body: 'kept_total{a="1"} 10\nkept_total{a="3"} 3\n' })).status).toBe(200);
    expect(await lines(four, "kept_total")).toEqual([`kept_total{a="1",job="${a}"} 11`, `kept_total{a="2",job="${a}"} 2`, `kept_total{a="3",job="${a}"} 3`]);
    expect((await http(four, `/metrics/job/${a}`, { method: "PUT", body: 'kept_total{a="2"} 5\n' })).status).toBe(200);
    expect(await lines(four, "kept_total")).toEqual([`kept_total{a="2",job="${a}"} 5`]);
    expect(await lines(four, "kept_total")).toEqual([`kept_total{a="2",job="${a}"} 5`]);
  });

  it("hands over a family's text in pieces and series in slices, whole and in order, rendered or merged", async () => {
    const four = gateway(4);
    const ids = Array.from({ length: 2500 }, (_, i) => String(i).padStart(5, "0"));
    const body = ids.map((id) => `big_total{id="${id}",pad="${"p".repeat(20)}"} ${Number(id)}`).join("\n");
    expect((await http(four, `/metrics/job/${a}`, { method: "PUT", body: `${body}\n` })).status).toBe(200);
    const expected = ids.map((id) => `big_total{id="${id}",job="${a}",pad="${"p".repeat(20)}"} ${Number(id)}`);
    // Kept as text (~140 KB: five pieces), then again from what was kept.
    expect(await lines(four, "big_total")).toEqual(expected);
    expect(await lines(four, "big_total")).toEqual(expected);
    // Merged with another shard's series (then as series, rendered 256 at a time).
    expect((await http(four, `/metrics/job/${b}`, { method: "PUT", body: 'big_total{id="00000x"} 1\n' })).status).toBe(200);
    const merged = [...expected.slice(0, 1), `big_total{id="00000x",job="${b}"} 1`, ...expected.slice(1)];
    expect(await lines(four, "big_total")).toEqual(merged);
  });

  it("merges a family it rendered with another shard's series of it, in key order, from the first scrape on", async () => {
    const four = gateway(4);
    expect((await http(four, `/metrics/job/${a}`, { method: "PUT", body: 'split_total{a="1"} 1\nsplit_total{a="3"} 3\n' })).status).toBe(200);
    await lines(four, "split_total"); // kept as text by a's shard
    expect((await http(four, `/metrics/job/${b}`, { method: "PUT", body: 'split_total{a="0"} 7\nsplit_total{a="2"} 2\n' })).status).toBe(200);
    const expected = [`split_total{a="0",job="${b}"} 7`, `split_total{a="1",job="${a}"} 1`, `split_total{a="2",job="${b}"} 2`, `split_total{a="3",job="${a}"} 3`];
    for (let i = 0; i < 3; i++) expect(await lines(four, "split_total")).toEqual(expected);
    // The text a's shard rendered is dropped once the family turned out shared.
    expect((await shardOf(a).catalog()).renderedBytes).toBe(0);
  });

  it("never serves kept text past a series' expiry, nor past a group's shortened TTL", async () => {
    const four = gateway(4);
    const stub = shardOf(a);
    const read = async (now: number) => {
      const page = await stub.read({ after: null, maxBytes: 1 << 20, now, render: TEXT, rotating: true });
      return page.families.filter((f) => f.name === "ttl_kept").map((f) => f.rendered?.text.join("") ?? `columns: ${f.keys.join(" ")}`);
    };
    const put = await http(four, `/metrics/job/${a}`, { method: "PUT", body: "ttl_kept 1\n", headers: { "Metrics-TTL": "3600" } });
    expect(put.status).toBe(200);
    const now = Date.now();
    expect(await read(now)).toEqual([`ttl_kept{job="${a}"} 1\n`]);
    expect(await read(now + 3_700_000)).toEqual([]);
    expect(await read(now)).toEqual([`ttl_kept{job="${a}"} 1\n`]);
    // A push with a longer TTL brings the group back for reads after its old expiry: a text made
    // then, leaving the group out, is not served again.
    expect(await read(now + 3_700_000)).toEqual([]);
    expect((await http(four, `/metrics/job/${a}`, { method: "POST", body: "ttl_other 1\n", headers: { "Metrics-TTL": "7200" } })).status).toBe(200);
    expect(await read(now + 3_700_000)).toEqual([`ttl_kept{job="${a}"} 1\n`]);
    // A push of another family with a 1 s TTL: the whole group (ttl_kept too) now expires 1 s after it.
    const post = await http(four, `/metrics/job/${a}`, { method: "POST", body: "ttl_other 1\n", headers: { "Metrics-TTL": "1" } });
    expect(post.status).toBe(200);
    expect(await read(Date.now() + 5_000)).toEqual([]);
  });
});

describe("shard fan-out", () => {
  it("fails the whole read with Unavailable naming a failing shard", async () => {
    const error = await rejection(allShards(3, "scrape", async (i) => (i === 1 ? Promise.reject(new Error("overloaded")) : i)));
    expect(error.name).toBe("Unavailable");
    expect(error.message).toBe("scrape: shard 1 failed (overloaded); nothing partial is returned, retry");
  });

  it("asks each shard for pages small enough that all the pages in flight stay within READ_BYTES_IN_FLIGHT", async () => {
    for (const n of [1, 2, 4, 8, 16, 64]) {
      const bytes = pageBytesFor(n);
      expect(bytes).toBeGreaterThanOrEqual(64 * 1024);
      expect(bytes).toBeLessThanOrEqual(512 * 1024);
      if (n >= 3 && n <= 24) expect(bytes * 2 * n).toBeLessThanOrEqual(READ_BYTES_IN_FLIGHT);
    }
    // A scrape over 8 shards, watched at the shards' door: every page request says the size above.
    const asked: number[] = [];
    const watched = {
      ...env,
      SHARDS: "8",
      AGGREGATOR: {
        getByName: (name: string) => {
          const stub = env.AGGREGATOR.getByName(name);
          return new Proxy(stub, {
            get: (target, prop) =>
              prop === "read"
                ? (request: { maxBytes: number }) => {
                    asked.push(request.maxBytes);
                    return target.read(request as never);
                  }
                : Reflect.get(target, prop),
          });
        },
      },
    } as unknown as Env;
    const eight = new Gateway(createExecutionContext(), watched);
    await eight.push("paged_total 1\n", { group: { job: "paged" } });
    expect(withoutSelfMetrics(await eight.scrape())).toContain("paged_total{job=\"paged\"} 1");
    expect(asked.length).toBeGreaterThanOrEqual(8);
    expect(new Set(asked)).toEqual(new Set([pageBytesFor(8)]));
  });

  // It breaks shard 1's storage on purpose: it runs last in this file.
  it("answers 503 naming the shard when one shard fails, never a partial scrape", async () => {
    const four = gateway(4);
    for (let i = 0; i < 4; i++) await four.inc("fault_total");
    await runInDurableObject(env.AGGREGATOR.getByName(shardName(1)), (_i, state) => {
      state.storage.sql.exec("DROP TABLE series");
    });
    await abortAllDurableObjects();
    const response = await http(four, "/metrics");
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: string; message: string };
    expect(body.error).toBe("Unavailable");
    expect(body.message).toContain("shard 1");
    // A write to that shard is not acknowledged either: 503, retry later.
    const job = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"].find((j) => shardForGroup(labelKey(["job", j]), 4) === 1) ?? "";
    const push = await http(four, `/metrics/job/${job}`, { method: "POST", body: "fault_push 1\n" });
    expect(push.status).toBe(503);
    expect(((await push.json()) as { error: string }).error).toBe("Unavailable");
  });
});
