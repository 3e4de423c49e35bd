import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { rejection, userScrape, withoutSelfMetrics } from "./helpers";

const gw = exports.default;

beforeEach(async () => {
  await gw.delete("__all");
});

describe("inc", () => {
  it("adds 1 by default and the given value otherwise, per label set", async () => {
    await gw.inc("orders_total", { plan: "pro" });
    await gw.inc("orders_total", { plan: "pro" }, 2.5);
    await gw.inc("orders_total", { plan: "free" });
    await gw.inc("orders_total");
    expect(await userScrape()).toBe(
      [
        "# HELP orders_total ",
        "# TYPE orders_total counter",
        "orders_total 1",
        'orders_total{plan="free"} 1',
        'orders_total{plan="pro"} 3.5',
        "",
      ].join("\n"),
    );
  });

  it("treats label order as irrelevant", async () => {
    await gw.inc("x_total", { a: "1", b: "2" });
    await gw.inc("x_total", { b: "2", a: "1" });
    expect(await userScrape()).toContain('x_total{a="1",b="2"} 2\n');
  });

  it.each([-1, NaN, Infinity])("rejects the increment %s and stores nothing", async (value) => {
    const error = await rejection(gw.inc("bad_total", {}, value));
    expect(error.name).toBe("InvalidValue");
    expect(error.message).toMatch(/bad_total.*finite number >= 0/);
    expect(await userScrape()).toBe("");
  });

  it("rejects invalid metric and label names with InvalidName", async () => {
    const bad = await rejection(gw.inc(""));
    expect(bad.name).toBe("InvalidName");
    const surrogate = await rejection(gw.inc("x\ud800"));
    expect(surrogate.name).toBe("InvalidName");
    const label = await rejection(gw.inc("ok_total", { __reserved: "x" }));
    expect(label.name).toBe("InvalidName");
    const empty = await rejection(gw.inc("ok_total", { "": "x" }));
    expect(empty.name).toBe("InvalidName");
  });

  it("accepts UTF-8 names: quoted with escaping allow-utf-8, escaped with underscores (the default)", async () => {
    await gw.inc("my.metric", { "my.label": 'va"l' });
    const quoted = withoutSelfMetrics(await gw.scrape({ escaping: "allow-utf-8" }));
    expect(quoted).toContain('# TYPE "my.metric" counter\n');
    expect(quoted).toContain('{"my.metric","my.label"="va\\"l"} 1\n');
    const escaped = await userScrape();
    expect(escaped).toContain("# TYPE my_metric counter\n");
    expect(escaped).toContain('my_metric{my_label="va\\"l"} 1\n');
    expect(withoutSelfMetrics(await gw.scrape({ escaping: "values" }))).toContain('U__my_2e_metric{U__my_2e_label="va\\"l"} 1\n');
    expect(withoutSelfMetrics(await gw.scrape({ escaping: "dots" }))).toContain('my_dot_metric{my_dot_label="va\\"l"} 1\n');
  });

  it("rejects label values that are not strings, with the label's name", async () => {
    const error = await rejection(gw.inc("n_total", { code: 200 as unknown as string }));
    expect(error.name).toBe("BadRequest");
    expect(error.message).toContain('label "code"');
  });

  it("rejects labels that are not a plain object (a Map's or a Date's labels would vanish) and options that are not an object", async () => {
    for (const labels of [new Map([["a", "b"]]), new Date(0)]) {
      const error = await rejection(gw.inc("m_total", labels as unknown as Record<string, string>));
      expect(error.name).toBe("BadRequest");
      expect(error.message).toContain("plain object");
    }
    expect((await rejection(gw.push("x 1\n", "abc" as never))).name).toBe("BadRequest");
    expect((await rejection(gw.push("x 1\n", ["a"] as never))).name).toBe("BadRequest");
    expect((await rejection(gw.scrape("text" as never))).name).toBe("BadRequest");
    expect(withoutSelfMetrics(await gw.scrape())).toBe("");
  });

  it("rejects deleteGroup without a group (it would delete every ungrouped series); {} is the ungrouped writes", async () => {
    await gw.inc("d1_total", { a: "x" });
    await gw.inc("d1_total");
    for (const group of [undefined, null]) expect((await rejection(gw.deleteGroup(group as never))).name).toBe("BadRequest");
    expect(await userScrape()).toContain('d1_total{a="x"} 1');
    expect(await gw.deleteGroup({})).toEqual({ deleted: 2 });
  });

  it("rejects the reserved self-metric prefix", async () => {
    const error = await rejection(gw.inc("metrics_gateway_series"));
    expect(error.name).toBe("InvalidName");
  });
});

describe("set", () => {
  it("replaces the gauge value", async () => {
    await gw.set("temp", { room: "a" }, 20);
    await gw.set("temp", { room: "a" }, -3.5);
    await gw.set("temp", undefined, NaN);
    const text = await userScrape();
    expect(text).toContain('temp{room="a"} -3.5\n');
    expect(text).toContain("temp NaN\n");
  });

  it("conflicts with a stored counter of the same name", async () => {
    await gw.inc("jobs");
    const error = await rejection(gw.set("jobs", undefined, 1));
    expect(error.name).toBe("TypeConflict");
    expect(error.message).toContain("stored as counter");
  });
});

describe("observe", () => {
  it("records observations in prom-client's default buckets", async () => {
    await gw.observe("latency_seconds", { route: "/" }, 0.3);
    await gw.observe("latency_seconds", { route: "/" }, 7);
    const text = await userScrape();
    expect(text).toContain("# TYPE latency_seconds histogram\n");
    expect(text).toContain('latency_seconds_bucket{route="/",le="0.25"} 0\n');
    expect(text).toContain('latency_seconds_bucket{route="/",le="0.5"} 1\n');
    expect(text).toContain('latency_seconds_bucket{route="/",le="10"} 2\n');
    expect(text).toContain('latency_seconds_bucket{route="/",le="+Inf"} 2\n');
    expect(text).toContain('latency_seconds_sum{route="/"} 7.3\n');
    expect(text).toContain('latency_seconds_count{route="/"} 2\n');
  });

  it("takes custom buckets, and merges another layout over the bounds both have", async () => {
    await gw.observe("size_bytes", undefined, 5, [1, 10]);
    expect(await userScrape()).toContain('size_bytes_bucket{le="10"} 1\n');
    await gw.observe("size_bytes", undefined, 0.5, [1, 100]);
    const text = await userScrape();
    expect(text).toContain('size_bytes_bucket{le="1"} 1\nsize_bytes_bucket{le="+Inf"} 2\nsize_bytes_sum 5.5\nsize_bytes_count 2\n');
    expect(text).not.toContain('le="10"');
    expect(text).not.toContain('le="100"');
    expect(await gw.scrape()).toContain('metrics_gateway_histogram_layout_narrowed_total{family="size_bytes"} 1\n');
    const order = await rejection(gw.observe("other_bytes", undefined, 5, [10, 1]));
    expect(order.name).toBe("BadRequest");
  });
});

describe("push", () => {
  it("returns families and series and applies the aggregation rules", async () => {
    const body = [
      "# TYPE c counter",
      'c{a="1"} 2',
      "# TYPE g gauge",
      "g 5",
      "u 1",
      "",
    ].join("\n");
    expect(await gw.push(body)).toEqual({ families: 3, series: 3 });
    await gw.push(body.replace("g 5", "g 7"));
    const text = await userScrape();
    expect(text).toContain('c{a="1"} 4\n');
    expect(text).toContain("g 7\n");
    expect(text).toContain("# TYPE u untyped\nu 2\n");
  });

  it("reads OpenMetrics by content type and by a trailing # EOF", async () => {
    const om = "# TYPE req counter\nreq_total 3\n# EOF\n";
    await gw.push(om);
    await gw.push(om, { contentType: "application/openmetrics-text; version=1.0.0" });
    expect(await userScrape()).toContain("# TYPE req_total counter\nreq_total 6\n");
  });

  it("throws ParseError with line and column, and stores nothing of a bad body", async () => {
    const error = await rejection(gw.push("good 1\nbad{a=} 2\n"));
    expect(error.name).toBe("ParseError");
    expect(error.message).toMatch(/^line 2, column \d+: /);
    expect(await userScrape()).toBe("");
  });

  it("rejects a type conflict without applying any of the push", async () => {
    await gw.push("# TYPE a gauge\na 1\n");
    const error = await rejection(gw.push("# TYPE b counter\nb 1\n# TYPE a counter\na 1\n"));
    expect(error.name).toBe("TypeConflict");
    expect(await userScrape()).not.toContain("b 1");
  });

  it("rejects an unknown content type", async () => {
    const error = await rejection(gw.push("a 1\n", { contentType: "application/json+x" }));
    expect(error.name).toBe("UnsupportedMediaType");
  });
});

describe("delete", () => {
  it("deletes a family, a label subset, or everything, counting series", async () => {
    await gw.inc("a_total", { x: "1", y: "1" });
    await gw.inc("a_total", { x: "1", y: "2" });
    await gw.inc("a_total", { x: "2", y: "1" });
    await gw.inc("b_total");
    expect(await gw.delete("a_total", { x: "1" })).toEqual({ deleted: 2 });
    expect(await gw.delete("a_total", { x: "9" })).toEqual({ deleted: 0 });
    expect(await gw.delete("missing_total", { x: "1" })).toEqual({ deleted: 0 });
    expect(await userScrape()).toContain('a_total{x="2",y="1"} 1\n');
    expect(await gw.delete("a_total")).toEqual({ deleted: 1 });
    expect(await gw.delete("__all")).toEqual({ deleted: 1 });
    expect(await userScrape()).toBe("");
  });

  it("lets a deleted name come back with another type", async () => {
    await gw.inc("t");
    await gw.delete("t");
    await gw.set("t", undefined, 3);
    expect(await userScrape()).toContain("# TYPE t gauge\nt 3\n");
  });
});

describe("scrape", () => {
  it("renders OpenMetrics on request, counters with _total and # EOF", async () => {
    await gw.inc("hits");
    const om = await gw.scrape({ format: "openmetrics" });
    expect(om).toContain("# TYPE hits counter\nhits_total 1\n");
    expect(om.endsWith("# EOF\n")).toBe(true);
  });

  it("includes the gateway's own metrics", async () => {
    const value = (text: string, series: string) => Number(text.split("\n").find((l) => l.startsWith(`${series} `))?.slice(series.length + 1));
    const before = await gw.scrape();
    await gw.inc("z_total");
    await rejection(gw.push("x{"));
    const text = await gw.scrape();
    expect(text).toContain("# TYPE metrics_gateway_series gauge\nmetrics_gateway_series 1\n");
    expect(text).toContain("metrics_gateway_families 1\n");
    // The counters live as long as the shard: one write accepted and one rejected since `before`.
    expect(value(text, "metrics_gateway_pushes_accepted_total") - value(before, "metrics_gateway_pushes_accepted_total")).toBe(1);
    const parseErrors = 'metrics_gateway_pushes_rejected_total{reason="ParseError"}';
    expect(value(text, parseErrors) - value(before, parseErrors)).toBe(1);
  });
});
