import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { MetricOp } from "../rpc";
import type { Page } from "../src/aggregator/pages";
import { metrics } from "../rpc/client";
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
    const notObject = await rejection(gw.batch([{ op: "inc", name: "ok_total" }, null as never]));
    expect(notObject.message).toBe('ops[1]: a write must be an object such as { op: "inc", name: "jobs_total" }, got null');
    const ttl = await rejection(gw.batch([{ op: "inc", name: "ok_total" }, { op: "inc", name: "t_total", ttlSeconds: -1 }]));
    expect(ttl.message.startsWith("ops[1]: TTL -1 ")).toBe(true);
    expect(await userScrape()).toBe("");
    // A counter's -0 is 0.
    await gw.inc("zero_total", undefined, -0);
    expect(await userScrape()).toContain("zero_total 0\n");
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

  it("flush() waits for a send already on its way, and reports its error", async () => {
    const ctx = createExecutionContext();
    const m = metrics(gw, ctx);
    for (let i = 0; i < 500; i++) m.inc("bg_total", { i: String(i) });
    // Yield: the background send starts (setTimeout 0) and is still on its way.
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(m.pending).toBe(0);
    expect(await m.flush()).toEqual({ applied: 500 });
    expect((await userScrape()).split("\n").filter((l) => l.startsWith("bg_total{"))).toHaveLength(500);
    // Its error likewise (it is also logged, as a background send's error is).
    const errors: unknown[] = [];
    const log = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      m.inc("bad_total", undefined, -1);
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect((await rejection(m.flush())).name).toBe("InvalidValue");
      await waitOnExecutionContext(ctx);
    } finally {
      console.error = log;
    }
    expect(errors).toHaveLength(1);
  });

  it("copies labels and buckets when a write is collected", async () => {
    const m = metrics(gw, createExecutionContext());
    const labels = { route: "/a" };
    const buckets = [1, 2];
    m.inc("copied_total", labels);
    labels.route = "/b";
    m.inc("copied_total", labels);
    m.observe("copied_seconds", undefined, 1.5, buckets);
    buckets.push(0.5);
    expect(await m.flush()).toEqual({ applied: 3 });
    const text = await userScrape();
    expect(text).toContain('copied_total{route="/a"} 1\n');
    expect(text).toContain('copied_total{route="/b"} 1\n');
    expect(text).toContain('copied_seconds_bucket{le="2"} 1\n');
  });

  it("sends a request's writes past MAX_BATCH_BYTES in more than one call (one RPC value carries at most 32 MiB)", async () => {
    const ctx = createExecutionContext();
    const sizes: number[] = [];
    const m = metrics({ batch: (ops: MetricOp[]) => (sizes.push(ops.length), gw.batch(ops)) }, ctx);
    const big = "x".repeat(32_000);
    for (let i = 0; i < 140; i++) m.inc("wide_total", { v: `${i}-${big}` });
    expect(m.pending).toBeLessThan(140);
    expect(await m.flush()).toEqual({ applied: 140 });
    await waitOnExecutionContext(ctx);
    expect((await userScrape()).split("\n").filter((l) => l.startsWith("wide_total{"))).toHaveLength(140);
    // 140 writes of ~64 KB each (UTF-16): the 131st reaches MAX_BATCH_BYTES (8 MiB) and goes out
    // with the 130 before it; the rest go at flush().
    expect(sizes).toEqual([131, 9]);
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
