// What must hold whatever is pushed: every scrape valid, every rejected write absent everywhere,
// memory equal to storage, reads that never fail because of size. Each test is one of the
// reproductions of the issue that found these broken.
import { abortAllDurableObjects, createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { shardName } from "../src/aggregator/objects";
import { parseExposition } from "../src/wire/exposition/parse";
import Gateway from "../src/worker/entrypoint";
import { prepare } from "../src/worker/validate";
import { rejection, withoutSelfMetrics, writeCalls } from "./helpers";

const gw = exports.default;
const shard0 = () => env.AGGREGATOR.getByName(shardName(0));

function call(path: string, init?: RequestInit): Promise<Response> {
  return gw.fetch(new Request(`http://gateway${path}`, init));
}

async function errorOf(response: Response): Promise<{ status: number; error: string; message: string }> {
  const body = (await response.json()) as { error: string; message: string };
  return { status: response.status, ...body };
}

beforeEach(async () => {
  await gw.delete("__all");
  await runInDurableObject(shard0(), (_i, state) => {
    state.storage.sql.exec("DROP TRIGGER IF EXISTS poison_series");
    state.storage.sql.exec("DROP TRIGGER IF EXISTS poison_chunks");
  });
});

describe("one push cannot take the scrape down", () => {
  it("escapes a UTF-8 grouping label for scrapers that did not ask for UTF-8 names (PUT /metrics/job/j1/a-b/c)", async () => {
    expect((await call("/metrics/job/j1/a-b/c", { method: "PUT", body: "up_total 1\n" })).status).toBe(200);
    await gw.inc("x", { "a-b": "1" });
    const text = await (await call("/metrics")).text();
    expect(text).not.toContain('"a-b"');
    expect(text).toContain('push_failure_time_seconds{a_b="c",job="j1"} 0\n');
    expect(text).toContain('up_total{a_b="c",job="j1"} 1\n');
    expect(text).toContain('x{a_b="1"} 1\n');
    // Prometheus 3 asks for UTF-8 names and gets them quoted.
    const utf8 = await call("/metrics", { headers: { Accept: "text/plain;version=1.0.0;escaping=allow-utf-8" } });
    expect(await utf8.text()).toContain('up_total{"a-b"="c",job="j1"} 1\n');
  });

  it("rejects (409) a family that would collide with another's samples: gauge rq_count after histogram rq", async () => {
    await gw.push('# TYPE rq histogram\nrq_bucket{le="+Inf"} 1\nrq_sum 1\nrq_count 1\n', { group: { job: "a" } });
    const clash = await call("/metrics/job/a", { method: "POST", body: "# TYPE rq_count gauge\nrq_count 5\n" });
    const error = await errorOf(clash);
    expect(error.status).toBe(409);
    expect(error.error).toBe("Conflict");
    expect(error.message).toBe(
      'metric "rq_count" (gauge) would be written as "rq_count", which family "rq" already writes (its samples, OpenMetrics names or escaped name); rename one of them, or delete "rq" first',
    );
    const text = withoutSelfMetrics(await gw.scrape());
    expect(text.match(/rq_count\{job="a"\}/g)).toHaveLength(1);
    expect(text).not.toContain("# TYPE rq_count");
  });

  it("rejects (409) an OpenMetrics counter foo_total after a text counter foo: both are family foo in OpenMetrics", async () => {
    await gw.push("# TYPE foo counter\nfoo 1\n");
    const error = await rejection(gw.push("# TYPE foo counter\nfoo_total 2\n# EOF\n"));
    expect(error.name).toBe("Conflict");
    expect(error.message).toContain('which family "foo" already writes');
    const om = await gw.scrape({ format: "openmetrics" });
    expect(om.match(/# TYPE foo counter/g)).toHaveLength(1);
  });

  it("rejects (409) two families whose escaped names would be one (a.b and a_b)", async () => {
    await gw.set("a.b", undefined, 1);
    const error = await rejection(gw.set("a_b", undefined, 2));
    expect(error.name).toBe("Conflict");
    expect(error.message).toContain('would be written as "a_b", which family "a.b" already writes');
  });

  it("rejects (409) two label names of one family that escape alike (k.a and k_a)", async () => {
    await gw.set("lbl", { "k.a": "1" }, 1);
    const error = await rejection(gw.set("lbl", { k_a: "1" }, 2));
    expect(error.name).toBe("Conflict");
    expect(error.message).toBe(
      'metric "lbl": label "k_a" would be written as "k_a", as its label "k.a" is; two label names that escape alike would make series collide in Prometheus 2.x scrapes; rename the label',
    );
  });

  it("serves a summary OpenMetrics cannot carry in text, leaves it out of OpenMetrics and counts it; every scrape reads back", async () => {
    await gw.push('# TYPE neg summary\nneg{quantile="0.5"} -3\nneg_sum -10\nneg_count 4\n# TYPE ok gauge\nok 1\n');
    const text = await gw.scrape();
    expect(text).toContain('neg{quantile="0.5"} -3\nneg_sum -10\nneg_count 4\n');
    const om = await gw.scrape({ format: "openmetrics" });
    expect(om).not.toContain("neg{");
    expect(om).toContain("ok 1\n");
    expect(om).toContain('metrics_gateway_scrape_omitted_series{reason="negative_counter_like"} 1\n');
    // Again, from the text the shard kept: the same series, the same count of those left out.
    const again = await gw.scrape({ format: "openmetrics" });
    expect(withoutSelfMetrics(again)).toBe(withoutSelfMetrics(om));
    expect(again).toContain('metrics_gateway_scrape_omitted_series{reason="negative_counter_like"} 1\n');
    // The output of either scrape is accepted when pushed back (the gateway's own metrics aside).
    for (const [body, format] of [
      [withoutSelfMetrics(text), "text"],
      [`${withoutSelfMetrics(om)}# EOF\n`, "openmetrics"],
    ] as const) {
      expect(() => prepare(parseExposition(body, format, { allowTimestamps: false, rejectUnsupported: true }))).not.toThrow();
    }
  });

  it("rejects label values that UTF-8 cannot carry (lone surrogates) instead of making two series one", async () => {
    for (const value of ["\ud800", "\ud801", "a\udc00b"]) {
      const error = await rejection(gw.inc("lone_total", { a: value }));
      expect(error.name).toBe("InvalidValue");
      expect(error.message).toMatch(/^inc\("lone_total"\): label "a": the value is not valid UTF-8 text \(a lone surrogate at index \d\); fix the string's encoding$/);
    }
    expect(withoutSelfMetrics(await gw.scrape())).not.toContain("lone_total");
  });

  it("refuses the write that would take a counter past the largest finite number (a counter at +Inf is a value no push may write)", async () => {
    expect((await call("/metrics", { method: "POST", body: "# TYPE co counter\nco 1e308\n" })).status).toBe(200);
    const over = await errorOf(await call("/metrics", { method: "POST", body: "# TYPE co counter\nco 1e308\n" }));
    expect([over.status, over.error]).toEqual([400, "InvalidValue"]);
    expect(over.message).toContain("past the largest finite number");
    expect((await call("/metrics/pp?x=1", { method: "PATCH", body: "1e308" })).status).toBe(204);
    expect((await call("/metrics/pp?x=1", { method: "PATCH", body: "1e308" })).status).toBe(400);
    expect((await rejection(gw.batch([{ op: "inc", name: "bb_total", value: 1e308 }, { op: "inc", name: "bb_total", value: 1e308 }]))).name).toBe("InvalidValue");
    const text = withoutSelfMetrics(await gw.scrape());
    expect(text).toContain("co 1e+308\n");
    expect(text).toContain('pp{x="1"} 1e+308\n');
    expect(text).not.toContain("bb_total");
    expect(text).not.toContain("Inf");
  });

  it("refuses a name that escapes to the reserved __all", async () => {
    const error = await errorOf(await call("/metrics", { method: "POST", body: '{"_.all"} 1\n' }));
    expect([error.status, error.error]).toEqual([400, "InvalidName"]);
    expect(error.message).toContain('"__all"');
  });
});

describe("memory follows storage", () => {
  it("rejects a HELP text too long to store (413) and applies nothing of the push", async () => {
    const help = "h".repeat(3 * 1024 * 1024);
    const g = new Gateway(createExecutionContext(), { ...env, MAX_BODY_BYTES: String(10 * 1024 * 1024) });
    const response = await g.fetch(new Request("http://gateway/metrics", { method: "POST", body: `# HELP big Help.\n# TYPE big counter\nbig 1\n# HELP huge ${help}\n# TYPE huge counter\nhuge 1\n` }));
    const error = await errorOf(response);
    expect(error.status).toBe(413);
    expect(error.message).toBe(`metric "huge": the HELP text has ${help.length} characters, over the limit of 16384; shorten it`);
    expect(withoutSelfMetrics(await gw.scrape())).toBe("");
    expect(await shard0().verify()).toEqual([]);
  });

  it("rejects a 70,000-bucket histogram (413) while the writes batched with it are applied", async () => {
    const buckets = Array.from({ length: 70_000 }, (_, i) => i + 1);
    const results = await Promise.allSettled([
      gw.observe("wide_seconds", undefined, 1, buckets),
      gw.inc("small_total", { n: "1" }),
      gw.inc("small_total", { n: "2" }),
      gw.inc("small_total", { n: "3" }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled", "fulfilled"]);
    const wide = results[0];
    expect(wide?.status === "rejected" ? (wide.reason as Error).name : "").toBe("LimitExceeded");
    const text = withoutSelfMetrics(await gw.scrape());
    expect(text).toBe('# HELP small_total \n# TYPE small_total counter\nsmall_total{n="1"} 1\nsmall_total{n="2"} 1\nsmall_total{n="3"} 1\n');
  });

  it("fails only the write storage refuses in a group-commit batch (503, absent everywhere); the others are applied once", async () => {
    // A real storage failure for one write: SQLite itself aborts any row holding "poison".
    await runInDurableObject(shard0(), (_i, state) => {
      state.storage.sql.exec("CREATE TRIGGER poison_series BEFORE INSERT ON series WHEN NEW.labels LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END");
      state.storage.sql.exec("CREATE TRIGGER poison_chunks BEFORE INSERT ON chunks WHEN instr(CAST(NEW.data AS TEXT), 'poison') > 0 BEGIN SELECT RAISE(ABORT, 'poisoned row'); END");
    });
    const calls = await writeCalls();
    // Four writes of one request, submitted together: group commit sends them as one batch.
    const g = new Gateway(createExecutionContext(), env);
    const results = await Promise.allSettled([
      g.inc("batch_total", { id: "1" }),
      g.inc("batch_total", { id: "poison" }, 5),
      g.inc("batch_total", { id: "2" }),
      g.inc("batch_total", { id: "3" }),
    ]);
    // One group-commit batch: one write call to the shard.
    expect((await writeCalls()) - calls).toBe(1);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    const failed = results[1];
    const reason = failed?.status === "rejected" ? (failed.reason as Error) : new Error("fulfilled");
    expect(reason.name).toBe("Unavailable");
    expect(reason.message).toMatch(/^storage refused the write \(Error: poisoned row.*\); nothing of it was applied, retry or make it smaller$/);
    const expected = '# HELP batch_total \n# TYPE batch_total counter\nbatch_total{id="1"} 1\nbatch_total{id="2"} 1\nbatch_total{id="3"} 1\n';
    expect(withoutSelfMetrics(await gw.scrape())).toBe(expected);
    expect(await shard0().verify()).toEqual([]);
    await abortAllDurableObjects();
    expect(withoutSelfMetrics(await gw.scrape())).toBe(expected);
    // A retry after the fault is gone counts once.
    await runInDurableObject(shard0(), (_i, state) => {
      state.storage.sql.exec("DROP TRIGGER poison_series");
      state.storage.sql.exec("DROP TRIGGER poison_chunks");
    });
    await gw.inc("batch_total", { id: "poison" }, 5);
    expect(withoutSelfMetrics(await gw.scrape())).toContain('batch_total{id="poison"} 5\n');
  });
});

describe("stored size cannot take reads down", () => {
  it("scrapes five 9 MB pushes of 65,000-character label values (700 series), and serves the status views", async () => {
    const g = new Gateway(createExecutionContext(), { ...env, MAX_BODY_BYTES: String(10 * 1024 * 1024) });
    const value = "v".repeat(65_000);
    for (let p = 0; p < 5; p++) {
      const body = Array.from({ length: 140 }, (_, i) => `wide{p="${p}",i="${i}",v="${value}"} 1`).join("\n") + "\n";
      expect(body.length).toBeGreaterThan(9_000_000);
      const response = await g.fetch(new Request("http://gateway/metrics/job/wide", { method: "POST", body }));
      expect(response.status).toBe(200);
    }
    const scrape = await g.fetch(new Request("http://gateway/metrics"));
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text.split("\n").filter((l) => l.startsWith("wide{"))).toHaveLength(700);
    expect(text).toContain("metrics_gateway_series 700\n");
    for (const path of ["/api/v1/status", "/", "/api/v1/metrics"]) {
      const response = await g.fetch(new Request(`http://gateway${path}`));
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    expect((await g.delete("wide")).deleted).toBe(700);
  });

  it("serves every series of a store spanning many pages: 1,100 families of 100 series in one group", async () => {
    const g = new Gateway(createExecutionContext(), { ...env, MAX_BODY_BYTES: String(10 * 1024 * 1024), MAX_SERIES: "200000" });
    const lines: string[] = [];
    for (let f = 0; f < 1100; f++) for (let i = 0; i < 100; i++) lines.push(`many_${f}{i="${i}"} ${i}`);
    expect((await g.fetch(new Request("http://gateway/metrics/job/many", { method: "PUT", body: `${lines.join("\n")}\n` }))).status).toBe(200);
    const text = await (await g.fetch(new Request("http://gateway/metrics"))).text();
    expect(text.split("\n").filter((l) => l.startsWith("many_"))).toHaveLength(110_000);
    expect(text).toContain("metrics_gateway_series 110000\n");
    expect(text).toContain("metrics_gateway_families 1100\n");
    expect((await g.delete("__all")).deleted).toBe(110_000);
  });
});
