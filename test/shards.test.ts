import { abortAllDurableObjects, createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mergeShardFamilies } from "../src/aggregator/shard-merge";
import { labelKey } from "../src/common/labels";
import { shardForGroup, shardName } from "../src/aggregator/objects";
import { allShards } from "../src/worker/shards";
import Gateway from "../src/worker/entrypoint";
import { rejection, withoutSelfMetrics } from "./helpers";

/** The gateway as deployed with SHARDS = n (the entrypoint class, called directly). */
function gateway(shards: number): Gateway {
  return new Gateway(createExecutionContext(), { ...env, SHARDS: String(shards) });
}

async function seriesRows(shard: number, family: string): Promise<number> {
  return runInDurableObject(env.AGGREGATOR.getByName(shardName(shard)), (_i, state) => {
    return state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM series WHERE family = ?", family).one().n;
  });
}

describe("sharded aggregators", () => {
  it("spreads one hot counter over shards, merges it exactly, and loses nothing when SHARDS changes", async () => {
    const four = gateway(4);
    // Sequential calls each close their own batch, so they rotate over the shards.
    for (let i = 0; i < 8; i++) await four.inc("hot_total", { route: "/" });
    const holders = (await Promise.all([0, 1, 2, 3].map((s) => seriesRows(s, "hot_total")))).filter((n) => n > 0).length;
    expect(holders).toBeGreaterThan(1);
    expect(withoutSelfMetrics(await four.scrape())).toContain('hot_total{route="/"} 8\n');

    const two = gateway(2);
    await Promise.all(Array.from({ length: 10 }, () => two.inc("hot_total", { route: "/" })));
    expect(withoutSelfMetrics(await two.scrape())).toContain('hot_total{route="/"} 18\n');

    const three = gateway(3);
    await three.inc("hot_total", { route: "/" }, 2);
    // Shard 3 is no longer written to, but reads still cover it.
    expect(withoutSelfMetrics(await three.scrape())).toContain('hot_total{route="/"} 20\n');
    expect(await three.scrape()).toContain("metrics_gateway_series 1\n");
  });

  it("takes the most recent gauge value and summary quantiles across shards, and adds histograms", async () => {
    const four = gateway(4);
    for (const v of [1, 2, 3, 4, 5]) await four.set("temp_celsius", { room: "a" }, v);
    for (const v of [0.1, 0.2, 0.3, 5]) await four.observe("lat_seconds", undefined, v, [0.25, 1]);
    const text = withoutSelfMetrics(await four.scrape());
    expect(text).toContain('temp_celsius{room="a"} 5\n');
    expect(text).toContain('lat_seconds_bucket{le="0.25"} 2\n');
    expect(text).toContain('lat_seconds_bucket{le="+Inf"} 4\n');
    expect(text).toContain("lat_seconds_count 4\n");
  });

  it("rejects a type conflict with data on another shard at push time", async () => {
    const four = gateway(4);
    await four.push("# TYPE clash counter\nclash 1\n", { group: { job: "a" } });
    // Find a group that lands on another shard than job="a".
    const error = await rejection(
      Promise.all(["b", "c", "d", "e", "f", "g"].map((job) => four.push("# TYPE clash gauge\nclash 1\n", { group: { job } }))),
    );
    expect(error.name).toBe("TypeConflict");
    expect(withoutSelfMetrics(await four.scrape())).not.toContain("# TYPE clash gauge");
    // Deleting the family everywhere frees the name for another type.
    await four.delete("clash");
    await four.set("clash", undefined, 2);
    expect(withoutSelfMetrics(await four.scrape())).toContain("# TYPE clash gauge\nclash 2\n");
  });

  it("deletes across shards", async () => {
    const four = gateway(4);
    for (let i = 0; i < 4; i++) await four.inc("gone_total", { i: String(i % 2) });
    const result = await four.delete("gone_total", { i: "0" });
    expect(result.deleted).toBeGreaterThanOrEqual(1);
    const text = withoutSelfMetrics(await four.scrape());
    expect(text).not.toContain('gone_total{i="0"}');
    expect(text).toContain('gone_total{i="1"} 2\n');
  });

  it("serves the operators' API merged across shards", async () => {
    const four = gateway(4);
    for (let i = 0; i < 4; i++) await four.inc("api_total");
    const response = await four.fetch(new Request("http://gateway/api/v1/metrics"));
    const body = (await response.json()) as { data: Record<string, { metrics?: { value: string }[] }>[] };
    const ungrouped = body.data.find((g) => g.api_total !== undefined);
    expect(ungrouped?.api_total?.metrics?.[0]?.value).toBe("4");
  });
});

describe("shard fan-out", () => {
  // It breaks shard 1's storage on purpose: the tests after it in this file touch no shard storage.
  it("answers 503 naming the shard when one shard fails, never a partial scrape", async () => {
    const four = gateway(4);
    for (let i = 0; i < 4; i++) await four.inc("fault_total");
    await runInDurableObject(env.AGGREGATOR.getByName(shardName(1)), (_i, state) => {
      state.storage.sql.exec("DROP TABLE series");
    });
    await abortAllDurableObjects();
    const response = await four.fetch(new Request("http://gateway/metrics"));
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: string; message: string };
    expect(body.error).toBe("Unavailable");
    expect(body.message).toContain("shard 1");
    // A write to that shard is not acknowledged either: 503, retry later.
    const job = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"].find((j) => shardForGroup(labelKey(["job", j]), 4) === 1) ?? "";
    const push = await four.fetch(new Request(`http://gateway/metrics/job/${job}`, { method: "POST", body: "fault_push 1\n" }));
    expect(push.status).toBe(503);
    expect(((await push.json()) as { error: string }).error).toBe("Unavailable");
  });

  it("fails the whole read with Unavailable naming a failing shard", async () => {
    const error = await rejection(allShards(3, "scrape", async (i) => (i === 1 ? Promise.reject(new Error("overloaded")) : i)));
    expect(error.name).toBe("Unavailable");
    expect(error.message).toContain("shard 1 failed (overloaded)");
  });

  it("merges shard parts with the aggregation rules", () => {
    const merged = mergeShardFamilies([
      { name: "c", type: "counter", help: "", unit: "", series: [["a=\"1\"", 1, 5], ["a=\"2\"", 2, 5]] },
      { name: "c", type: "counter", help: "Help.", unit: "", series: [["a=\"1\"", 3, 1]] },
    ]);
    expect(merged).toEqual({ name: "c", type: "counter", help: "Help.", unit: "", series: [["a=\"1\"", 4, 5], ["a=\"2\"", 2, 5]] });
    const gauge = mergeShardFamilies([
      { name: "g", type: "gauge", help: "", unit: "", series: [["", 1, 10]] },
      { name: "g", type: "gauge", help: "", unit: "", series: [["", 2, 5]] },
    ]);
    expect(gauge.series).toEqual([["", 1, 10]]);
  });
});
