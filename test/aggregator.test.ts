import { abortAllDurableObjects, createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../src/aggregator/store";
import Gateway from "../src/worker/entrypoint";
import { rejection, withoutSelfMetrics } from "./helpers";

const gw = exports.default;
const stub = () => env.AGGREGATOR.getByName("aggregator");

beforeEach(async () => {
  await gw.delete("__all");
});

describe("aggregator storage", () => {
  it("stores a push's series packed in chunk rows and single increments as rows of their own (schema version 3)", async () => {
    await gw.push(Array.from({ length: 1000 }, (_, i) => `bulk{i="${i}"} ${i}`).join("\n") + "\n");
    await gw.inc("a_total", { x: "1" });
    await gw.inc("a_total", { x: "1" });
    await gw.inc("a_total", { x: "2" });
    await runInDurableObject(stub(), (_instance, state) => {
      const sql = state.storage.sql;
      expect(sql.exec<{ value: number }>("SELECT value FROM state WHERE key = 'schema_version'").one().value).toBe(3);
      // The 1,000-series push is two chunk rows (512 series each at most); the increments are single rows.
      expect(sql.exec<{ n: number }>("SELECT count(*) AS n FROM chunks").one().n).toBe(2);
      const rows = sql.exec<{ family: string; labels: string; value: number | null }>("SELECT family, labels, value FROM series ORDER BY family, labels").toArray();
      expect(rows.map((r) => [r.family, r.labels, r.value])).toEqual([
        ["a_total", 'x="1"', 2],
        ["a_total", 'x="2"', 1],
      ]);
      const ddl = sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'series'").one().sql;
      expect(ddl).toContain("WITHOUT ROWID");
    });
    expect(await stub().verify()).toEqual([]);
  });

  it("migrates a version 1 database forward on start, keeping its series", async () => {
    await runInDurableObject(stub(), (_instance, state) => {
      const sql = state.storage.sql;
      for (const table of ["series", "families", "tombstones", "groups", "chunks", "stale", "sources", "family_meta"]) sql.exec(`DROP TABLE IF EXISTS ${table}`);
      sql.exec(MIGRATIONS[0] ?? "");
      sql.exec("INSERT INTO families (name, type, help, unit) VALUES ('old_total', 'counter', 'From v1.', '')");
      sql.exec("INSERT INTO series (family, labels, value, packed, updated) VALUES ('old_total', 'a=\"1\"', 41, NULL, 0)");
      sql.exec("INSERT INTO tombstones (family, labels, type, value, packed, deleted) VALUES ('gone_total', '', 'counter', 1, NULL, 5)");
      sql.exec("UPDATE state SET value = 1 WHERE key = 'schema_version'");
    });
    await abortAllDurableObjects();
    await gw.inc("old_total", { a: "1" });
    expect(await gw.scrape()).toContain('# HELP old_total From v1.\n# TYPE old_total counter\nold_total{a="1"} 42\n');
    await runInDurableObject(stub(), (_instance, state) => {
      const sql = state.storage.sql;
      expect(sql.exec<{ value: number }>("SELECT value FROM state WHERE key = 'schema_version'").one().value).toBe(3);
      expect(sql.exec<{ grp: string }>("SELECT grp FROM series WHERE family = 'old_total'").one().grp).toBe("");
      // The old tombstones now owe their stale markers from a packed row.
      expect(sql.exec<{ count: number }>("SELECT count FROM stale").toArray()).toEqual([{ count: 1 }]);
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'tombstones'").toArray()).toEqual([]);
    });
    expect(await stub().verify()).toEqual([]);
  });

  it("loses nothing when the object is evicted and rebuilt from SQLite", async () => {
    await gw.push(
      [
        "# HELP c Counter help.",
        "# TYPE c counter",
        'c{a="x"} 3',
        "# TYPE g gauge",
        "g NaN",
        'g{x="inf"} +Inf',
        'g{x="-inf"} -Inf',
        'g{x="big"} 1.7976931348623157e+308',
        'g{x="tiny"} 5e-324',
        'g{x="quote"} -0.5',
        "# TYPE h histogram",
        'h_bucket{le="1"} 1',
        'h_bucket{le="+Inf"} 2',
        "h_sum 3.5",
        "h_count 2",
        "# TYPE s summary",
        's{quantile="0.5"} 1.5',
        "s_sum 10",
        "s_count 4",
        "",
      ].join("\n"),
    );
    const before = await gw.scrape();
    await abortAllDurableObjects();
    const after = await gw.scrape();
    expect(withoutSelfMetrics(after)).toBe(withoutSelfMetrics(before));
    expect(after).toContain("metrics_gateway_series 9\n");
    expect(after).toContain("g NaN\n");
    expect(after).toContain('g{x="inf"} +Inf\n');
    expect(after).toContain('g{x="-inf"} -Inf\n');
    expect(after).toContain('g{x="big"} 1.7976931348623157e+308\n');
    expect(after).toContain('g{x="tiny"} 5e-324\n');
    expect(after).toContain('h_bucket{le="+Inf"} 2\n');
    // and it keeps aggregating on top of what it reloaded
    await gw.push('# TYPE c counter\nc{a="x"} 1\n');
    expect(await gw.scrape()).toContain('c{a="x"} 4\n');
  });

  it("applies a push whole or not at all", async () => {
    await gw.push("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n");
    const before = await gw.scrape();
    // The first family is fine, the second conflicts with the stored type: nothing may change.
    const error = await rejection(gw.push("# TYPE ok counter\nok 1\n# TYPE h gauge\nh 1\n"));
    expect(error.name).toBe("TypeConflict");
    const after = await gw.scrape();
    expect(withoutSelfMetrics(after)).toBe(withoutSelfMetrics(before));
    await runInDurableObject(stub(), (_i, state) => {
      expect(state.storage.sql.exec("SELECT * FROM series WHERE family = 'ok'").toArray()).toEqual([]);
      expect(state.storage.sql.exec("SELECT * FROM family_meta WHERE data LIKE '%\"ok\"%'").toArray()).toEqual([]);
    });
    expect(await stub().verify()).toEqual([]);
  });

  it("merges summaries: sum and count added, quantiles replaced", async () => {
    await gw.push('# TYPE s summary\ns{quantile="0.9"} 5\ns_sum 10\ns_count 2\n');
    await gw.push('# TYPE s summary\ns{quantile="0.9"} 7\ns_sum 4\ns_count 1\n');
    const text = await gw.scrape();
    expect(text).toContain('s{quantile="0.9"} 7\ns_sum 14\ns_count 3\n');
  });

  it("enforces MAX_SERIES on new series only", async () => {
    const max = Number(env.MAX_SERIES);
    const lines = Array.from({ length: max }, (_, i) => `x{i="${i}"} 1`).join("\n");
    await gw.push(`${lines}\n`);
    expect((await rejection(gw.inc("y_total"))).name).toBe("LimitExceeded");
    await gw.push(`${lines}\n`); // existing series are still writable
    expect(await gw.scrape()).toContain('x{i="0"} 2\n');
  });

  it("writes rows that grow with what changed: a 10,000-series PUT of 100 new families, then again", async () => {
    const g = new Gateway(createExecutionContext(), { ...env, MAX_BODY_BYTES: String(10 * 1024 * 1024) });
    const lines: string[] = [];
    for (let f = 0; f < 100; f++) {
      lines.push(`# HELP rows_${f} Family ${f}.`, `# TYPE rows_${f} gauge`);
      for (let i = 0; i < 100; i++) lines.push(`rows_${f}{host="h${i % 20}",path="/api/${f * 100 + i}"} ${i}`);
    }
    const body = `${lines.join("\n")}\n`;
    const rows = async () => Number(/metrics_gateway_storage_rows_written_total (\d+)/.exec(await gw.scrape())?.[1]);
    const put = () => g.fetch(new Request("http://gateway/metrics/job/rows", { method: "PUT", body }));
    const before = await rows();
    expect((await put()).status).toBe(200);
    const first = (await rows()) - before;
    expect((await put()).status).toBe(200);
    const again = (await rows()) - before - first;
    // 20 chunks of at most 512 series, 1 row of the 100 families' metadata, 1 group row.
    expect(first).toBe(22);
    // The same series again: the 20 chunks and the group's push time.
    expect(again).toBe(21);
    // The registry keeps the 100 new families' types and label names in one row.
    const packs = await runInDurableObject(env.REGISTRY.getByName("registry"), (_i, state) => state.storage.sql.exec<{ data: string }>("SELECT data FROM registry_families").toArray());
    expect(packs.filter((p) => p.data.includes('"rows_0"'))).toHaveLength(1);
    expect(JSON.parse(packs.find((p) => p.data.includes('"rows_0"'))?.data ?? "[]").filter((f: [string]) => f[0].startsWith("rows_"))).toHaveLength(100);
  });
});
