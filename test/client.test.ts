import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import type { MetricOp } from "../rpc";
import type { Page } from "../src/aggregator/pages";
import { metrics, type Metrics } from "../rpc/client";
import { rejection, userScrape, writeCalls } from "./helpers";

const gw = exports.default;

beforeEach(async () => {
  await gw.delete("__all");
});

describe("batch", () => {
  it("folds writes: increments add up, the last set wins, observations accumulate", async () => {
    const ops: MetricOp[] = [
      { op: "inc", name: "req_total", labels: { route: "/" } },
      { op: "inc", name: "req_total", labels: { route: "/" }, value: 2 },
      { op: "set", name: "depth", value: 3 },
      { op: "set", name: "depth", value: 1 },
      { op: "observe", name: "lat_seconds", value: 0.2, buckets: [0.5] },
      { op: "observe", name: "lat_seconds", value: 0.7, buckets: [0.5] },
    ];
    expect(await gw.batch(ops)).toEqual({ applied: 6 });
    const text = await userScrape();
    expect(text).toContain('req_total{route="/"} 3\n');
    expect(text).toContain("depth 1\n");
    expect(text).toContain('lat_seconds_bucket{le="0.5"} 1\nlat_seconds_bucket{le="+Inf"} 2\n');
  });

  it("is applied whole or not at all, naming the write at fault", async () => {
    const error = await rejection(gw.batch([{ op: "inc", name: "ok_total" }, { op: "inc", name: "bad_total", value: -1 }]));
    expect(error.name).toBe("InvalidValue");
    expect(error.message).toContain("ops[1]");
    expect(await userScrape()).toBe("");
    const mixed = await rejection(gw.batch([{ op: "inc", name: "m" }, { op: "set", name: "m", value: 1 }]));
    expect(mixed.name).toBe("TypeConflict");
  });
});

describe("metrics() batching helper", () => {
  it("sends a request's writes as one call after the handler, through waitUntil", async () => {
    const ctx = createExecutionContext();
    const m = metrics(gw, ctx);
    const before = await writeCalls();
    for (let i = 0; i < 100; i++) m.inc("orders_total", { plan: i % 2 === 0 ? "pro" : "free" });
    m.set("queue_depth", undefined, 5);
    m.observe("order_seconds", { plan: "pro" }, 0.3);
    expect(m.pending).toBe(102);
    await waitOnExecutionContext(ctx);
    expect(m.pending).toBe(0);
    const text = await userScrape();
    expect(text).toContain('orders_total{plan="free"} 50\n');
    expect(text).toContain('orders_total{plan="pro"} 50\n');
    expect(text).toContain("queue_depth 5\n");
    // 102 writes, one Durable Object call.
    expect((await writeCalls()) - before).toBe(1);
  });

  it("flush() sends now and reports the gateway's error", async () => {
    const m = metrics(gw, createExecutionContext());
    m.inc("fine_total");
    expect(await m.flush()).toEqual({ applied: 1 });
    m.inc("");
    const error = await rejection(m.flush());
    expect(error.name).toBe("InvalidName");
    expect(await m.flush()).toEqual({ applied: 0 });
  });

  it("has the documented types", () => {
    expectTypeOf(metrics).parameter(0).toExtend<{ batch(ops: MetricOp[]): Promise<{ applied: number }> }>();
    expectTypeOf(metrics).returns.toEqualTypeOf<Metrics>();
  });

  it("passes each write's TTL (ttlSeconds) through the batch", async () => {
    const ctx = createExecutionContext();
    const m = metrics(gw, ctx);
    m.inc("brief_total", { r: "1" }, 1, { ttlSeconds: 30 });
    m.set("kept", undefined, 1);
    await m.flush();
    await waitOnExecutionContext(ctx);
    const shard = env.AGGREGATOR.getByName("aggregator");
    const now = (await shard.read({ after: null, maxBytes: 1 << 20, now: Date.now() })) as unknown as Page;
    expect(now.families.map((f) => f.name)).toEqual(["brief_total", "kept"]);
    // A minute later the series with a 30 s TTL is no longer served; the other is.
    const later = (await shard.read({ after: null, maxBytes: 1 << 20, now: Date.now() + 60_000 })) as unknown as Page;
    expect(later.families.map((f) => f.name)).toEqual(["kept"]);
  });
});
