/**
 * The renderer's output read by real parsers. A table of tricky families (UTF-8 names, names and
 * label names that escape alike, every edge value, histograms with negative bounds, summaries with
 * negative sums, HELP and label values with quotes, backslashes, newlines and Unicode) is rendered
 * in every format x escaping scheme, as a scrape would be (clashing families left out with
 * `clashingFamilies`), and read back by promtool (Prometheus 2.42's text parser; escaped text only,
 * it cannot read quoted names), by prometheus_client's text and OpenMetrics parsers (Debian's 0.16,
 * which cannot read quoted names either: with allow-utf-8 they get the families that have none),
 * and by the gateway's own parser (everything). Every sample must read back as the same float under
 * the same labels, HELP as the same text, and every series is either whole or counted as left out.
 * The test fails, naming the package, when promtool or /usr/bin/python3 with prometheus_client is
 * missing. Nothing is written to disk: bodies go through stdin.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { labelKey } from "../../src/common/labels";
import type { Family, LabelPairs, MetricType } from "../../src/common/model";
import { isLegacyLabelName, isLegacyMetricName } from "../../src/common/names";
import { ESCAPING_SCHEMES, type EscapingScheme, escapeKey, escapeLabelName, escapeMetricName } from "../../src/wire/exposition/escaping";
import { type FamilyView, type Omitted, type RenderOptions, clashingFamilies, renderFamily } from "../../src/wire/exposition/format";
import { parseExposition } from "../../src/wire/exposition/parse";
import { formatOpenMetricsFloat } from "../../src/wire/remote-write/write-request";
import { PEERS, requirePeer, requirePythonModule } from "./servers";

interface Row {
  /** Label pairs, unescaped; the key is `labelKey(labels)`. */
  readonly labels: LabelPairs;
  readonly value: number | Float64Array;
  /** OpenMetrics cannot carry it: it must be left out of OpenMetrics output. */
  readonly om?: false;
  /**
   * With these schemes its labels clash once escaped, or one escapes to a name with a leading `__`
   * (reserved for Prometheus's own labels): it must be left out.
   */
  readonly clash?: readonly EscapingScheme[];
  /**
   * The gateway's own parser (a push validator) rejects it by rules exposition parsers do not have
   * (a quantile above 1; a label name starting with `__`), always or with these schemes: it is left
   * out of what that parser is given.
   */
  readonly push?: false | readonly EscapingScheme[];
}

interface Entry {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly unit?: string;
  readonly rows: readonly Row[];
}

const H = (...v: number[]): Float64Array => new Float64Array(v);

const EDGE_VALUES = [
  NaN,
  Infinity,
  -Infinity,
  -0,
  0,
  5e-324,
  2.225073858507201e-308, // the largest subnormal
  2.2250738585072014e-308,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  0.1,
  1 / 3,
  -1.5e-10,
  1e-7,
  1e16,
  2 ** 53,
  2 ** 53 + 2,
  123456789012345680000,
  1e21,
];

const TRICKY_VALUE = 'q"uote b\\ack n\nl t\tab cr\rz ü😱 ,}{=# x # y} 1';

const TABLE: readonly Entry[] = [
  {
    name: "my.metric",
    type: "gauge",
    help: 'Help with \\ backslash,\nnewline, "quotes", \\n literally, and ü😱',
    rows: [
      { labels: [], value: 1 },
      { labels: ["k8s.pod", "p-1", "a", "x"], value: 2 },
      { labels: ["a", TRICKY_VALUE], value: 3 },
    ],
  },
  { name: "my_metric", type: "gauge", help: "Exposed as my.metric is once escaped with underscores.", rows: [{ labels: [], value: 10 }] },
  { name: "my-metric", type: "gauge", help: "Escapes like my.metric with underscores, apart with dots and values.", rows: [{ labels: ["b", "1"], value: 11 }] },
  { name: "edge_values", type: "gauge", help: "", rows: EDGE_VALUES.map((value, i) => ({ labels: ["i", String(i)], value })) },
  { name: "untyped.thing", type: "untyped", help: "Untyped may be negative or NaN.", rows: [{ labels: [], value: -5 }, { labels: ["x", "nan"], value: NaN }] },
  {
    name: "http.requests_total",
    type: "counter",
    help: "A UTF-8 counter.",
    rows: [
      { labels: ["http.method", "GET"], value: 5 },
      { labels: ["code", "200"], value: 0 },
      { labels: ["code", "neg_zero"], value: -0 },
      { labels: ["code", "inf"], value: Infinity },
      { labels: ["code", "big"], value: 1e308 },
      { labels: ["code", "nan"], value: NaN, om: false },
      { labels: ["code", "negative"], value: -1, om: false },
    ],
  },
  { name: "c", type: "counter", help: "No _total: OpenMetrics writes c_total.", rows: [{ labels: [], value: 1 }] },
  { name: "c_total", type: "gauge", help: "Uses the name counter c's samples have in OpenMetrics.", rows: [{ labels: [], value: 2 }] },
  {
    name: "lat.seconds",
    type: "histogram",
    help: "A histogram with a UTF-8 name.",
    unit: "seconds",
    rows: [
      { labels: [], value: H(2.5, 4, 0.1, 1, Infinity, 1, 3, 4) },
      { labels: ["le.x", "1"], value: H(0, 0, 0.1, 1, Infinity, 0, 0, 0) },
      { labels: ["k", "neg"], value: H(-3, 2, -5, -1, 0, Infinity, 1, 2, 2, 2), om: false },
      { labels: ["k", "neg_sum"], value: H(-3, 2, 1, Infinity, 2, 2), om: false },
      { labels: ["k", "frac"], value: H(1, 1.5, 1, Infinity, 0.5, 1.5), om: false },
      { labels: ["k", "nan_sum"], value: H(NaN, 1, 1, Infinity, 1, 1), om: false },
    ],
  },
  { name: "plain_hist", type: "histogram", help: "", rows: [{ labels: ["a", "b"], value: H(12, 3, 1e-5, 0.005, 1, 1e6, Infinity, 0, 1, 2, 3, 3) }] },
  {
    name: "rpc.duration",
    type: "summary",
    help: "A summary.",
    rows: [
      { labels: [], value: H(10, 4, 0, 0.5, 0.99, 1, 0.1, 0.5, NaN, 2) },
      { labels: ["k", "no_quantiles"], value: H(1, 1) },
      { labels: ["k", "neg_sum"], value: H(-1, 1, 0.5, 1), om: false },
      { labels: ["k", "neg_value"], value: H(1, 1, 0.5, -1), om: false },
      { labels: ["k", "q_big"], value: H(1, 1, 1.5, 1), om: false, push: false },
    ],
  },
  {
    name: "dup_labels",
    type: "gauge",
    help: "Label names that escape alike.",
    rows: [
      { labels: ["a.b", "1"], value: 1, clash: ["underscores"] },
      { labels: ["a_b", "1"], value: 2 },
      { labels: ["a.b", "2", "a_b", "3"], value: 3, clash: ["underscores"] },
      { labels: ["..name__", "x"], value: 4, clash: ["underscores"] },
      { labels: ["-name_", "y"], value: 5, clash: ["dots"] },
      { labels: ["a:b", "1"], value: 6, clash: ["underscores"] },
      { labels: ["0x", "1"], value: 7, clash: ["dots"] },
    ],
  },
  { name: "clash", type: "histogram", help: "", rows: [{ labels: [], value: H(1, 1, Infinity, 1) }] },
  { name: "clash_count", type: "gauge", help: "Uses a name histogram clash's samples have.", rows: [{ labels: [], value: 1 }] },
  { name: "empty_help", type: "gauge", help: "", rows: [{ labels: [], value: 0 }] },
  { name: "花火", type: "gauge", help: "花火 😱", rows: [{ labels: ["😱", "boo"], value: 1, clash: ["dots"] }] },
  { name: "0day.count", type: "gauge", help: "Starts with a digit.", rows: [{ labels: [], value: 1 }] },
];

/** The families a scrape leaves out for clashing names, by format and scheme. */
const DROPPED: Record<"text" | "openmetrics", Record<EscapingScheme, string[]>> = {
  text: { "allow-utf-8": ["clash_count"], underscores: ["clash_count", "my-metric", "my.metric"], dots: ["clash_count"], values: ["clash_count"] },
  openmetrics: {
    "allow-utf-8": ["c_total", "clash_count"],
    underscores: ["c_total", "clash_count", "my-metric", "my.metric"],
    dots: ["c_total", "clash_count"],
    values: ["c_total", "clash_count"],
  },
};

// prometheus_client's parsers on a list of bodies (JSON on stdin); values as repr(float).
const PYTHON = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families as text
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
out = []
for doc in json.load(sys.stdin):
    try:
        parse = openmetrics if doc["parser"] == "openmetrics" else text
        out.append({"ok": True, "families": [
            {"name": f.name, "type": f.type, "help": f.documentation, "unit": getattr(f, "unit", ""),
             "samples": [[s.name, s.labels, repr(float(s.value))] for s in f.samples]}
            for f in parse(doc["body"])]})
    except Exception as e:
        out.append({"ok": False, "error": type(e).__name__ + ": " + str(e)})
json.dump(out, sys.stdout)
`;

interface PyFamily {
  name: string;
  type: string;
  help: string;
  unit: string;
  samples: [string, Record<string, string>, string][];
}
type PyResult = { ok: true; families: PyFamily[] } | { ok: false; error: string };

/** The tools, checked once; a missing one fails every test with the package to install. */
let tools: { promtool: string; python: string } | undefined;
function requireTools(): { promtool: string; python: string } {
  tools ??= {
    promtool: requirePeer("promtool"),
    python: requirePythonModule("prometheus_client.openmetrics.parser, prometheus_client.parser", PEERS.python.package),
  };
  return tools;
}

function runPython(docs: { parser: "text" | "openmetrics"; body: string }[]): PyResult[] {
  const { python } = requireTools();
  const env = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
  const r = spawnSync(python, ["-c", PYTHON], { input: JSON.stringify(docs), encoding: "utf8", maxBuffer: 64 << 20, env });
  if (r.error !== undefined || r.status !== 0) throw new Error(`${python} failed: ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout) as PyResult[];
}

/** promtool check metrics: 0 is clean, 3 is lint advice only (e.g. a counter without _total); anything else did not parse. */
function promtool(body: string): { status: number | null; stderr: string } {
  const { promtool: bin } = requireTools();
  const r = spawnSync(bin, ["check", "metrics"], { input: body, encoding: "utf8" });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stderr: r.stderr };
}

/** A float as one canonical string, so equal floats (NaN, -0 included) compare equal. */
function canon(v: number): string {
  return Object.is(v, -0) ? "-0" : String(v);
}

/** A float written by an exposition (`+Inf`, `NaN`, `1.0`) or by Python's repr (`inf`, `nan`). */
function num(s: string): number {
  const t = s.toLowerCase();
  if (t === "nan") return NaN;
  if (t === "+inf" || t === "inf") return Infinity;
  if (t === "-inf") return -Infinity;
  return Number(s);
}

interface Case {
  readonly format: "text" | "openmetrics";
  readonly escaping: EscapingScheme;
}

const CASES: Case[] = (["text", "openmetrics"] as const).flatMap((format) => ESCAPING_SCHEMES.map((escaping) => ({ format, escaping })));

/** Whether a row must be in the output. */
function mustAppear(row: Row, c: Case): boolean {
  if (c.format === "openmetrics" && row.om === false) return false;
  return !(row.clash ?? []).includes(c.escaping);
}

/** A rendered scrape of the table (its rows that `keep` keeps): the families kept, their text, what was left out. */
function scrape(c: Case, keep: (row: Row) => boolean = () => true): { kept: Entry[]; body: string; omitted: Omitted; dropped: string[] } {
  const options: RenderOptions = { openmetrics: c.format === "openmetrics", escaping: c.escaping };
  const table = TABLE.map((f) => ({ ...f, rows: f.rows.filter(keep) }));
  const sorted = table.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out = clashingFamilies(sorted, options);
  const kept = sorted.filter((f) => !out.has(f.name));
  const omitted: Omitted = {};
  const body = kept.map((f) => renderFamily(view(f), options, omitted)).join("") + (options.openmetrics ? "# EOF\n" : "");
  return { kept, body, omitted, dropped: [...out].sort() };
}

function view(f: Entry): FamilyView {
  return { name: f.name, type: f.type, help: f.help, unit: f.unit ?? "", series: f.rows.map((r) => [labelKey(r.labels), r.value] as const) };
}

/** Whether every name in the family's output is legacy (then prometheus_client can read it). */
function allLegacy(f: Entry, escaping: EscapingScheme): boolean {
  if (escaping !== "allow-utf-8") return true;
  return isLegacyMetricName(f.name) && f.rows.every((r) => r.labels.every((x, i) => i % 2 === 1 || isLegacyLabelName(x)));
}

/** A sample as `suffix|labels|value`, le and quantile compared as floats. */
function sampleId(suffix: string, labels: Record<string, string>, value: number): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, k === "le" || k === "quantile" ? canon(num(labels[k] ?? "")) : labels[k]]);
  return `${suffix}|${JSON.stringify(sorted)}|${canon(value)}`;
}

/** The samples a row should read back as, by parser family: suffixes as prometheus_client names them. */
function expectedSamples(f: Entry, row: Row, c: Case): string[] {
  const labels: Record<string, string> = {};
  for (let i = 0; i < row.labels.length; i += 2) labels[escapeLabelName(row.labels[i] ?? "", c.escaping)] = row.labels[i + 1] ?? "";
  const v = row.value;
  if (typeof v === "number") return [sampleId(f.type === "counter" ? "_total" : "", labels, v)];
  const n = (v.length - 2) >> 1;
  const out: string[] = [];
  const extra = f.type === "histogram" ? "le" : "quantile";
  for (let i = 0; i < n; i++) out.push(sampleId(f.type === "histogram" ? "_bucket" : "", { ...labels, [extra]: String(v[2 + i]) }, v[2 + n + i] ?? NaN));
  out.push(sampleId("_sum", labels, v[0] ?? NaN), sampleId("_count", labels, v[1] ?? NaN));
  return out;
}

/** The family name prometheus_client reports: counters without `_total`. */
function pythonFamilyName(f: Entry, c: Case): string {
  const exposed = escapeMetricName(f.name, c.escaping);
  return f.type === "counter" && exposed.endsWith("_total") ? exposed.slice(0, -6) : exposed;
}

/**
 * Checks one parser's view of the families: every sample is one the table has; every row is whole
 * or absent; rows that must appear do; absent rows are exactly what the renderer counted.
 */
function checkPython(families: PyFamily[], kept: Entry[], c: Case, parser: string): number {
  let absent = 0;
  for (const f of kept) {
    const name = pythonFamilyName(f, c);
    const found = families.filter((p) => p.name === name);
    expect(found, `${parser}: family ${name} (${f.name})`).toHaveLength(1);
    const p = found[0];
    if (p === undefined) continue;
    expect(p.help, `${parser}: HELP of ${name}`).toBe(f.help);
    // prometheus_client calls untyped "unknown" whatever the format.
    expect(p.type, `${parser}: TYPE of ${name}`).toBe(f.type === "untyped" ? "unknown" : f.type);
    const actual = new Map<string, number>();
    for (const [sample, labels, value] of p.samples) {
      expect(sample.startsWith(name), `${parser}: sample ${sample} in family ${name}`).toBe(true);
      // OpenMetrics requires le and quantile in canonical form (prometheus_client 0.16 checks +Inf only).
      for (const k of ["le", "quantile"]) {
        const at = labels[k];
        if (c.format === "openmetrics" && at !== undefined) expect(at, `${parser}: ${sample} ${k}`).toBe(formatOpenMetricsFloat(num(at)));
      }
      const id = sampleId(sample.slice(name.length), labels, num(value));
      actual.set(id, (actual.get(id) ?? 0) + 1);
    }
    const expected = new Map<string, number>();
    for (const row of f.rows) {
      const ids = expectedSamples(f, row, c);
      for (const id of ids) expected.set(id, (expected.get(id) ?? 0) + 1);
      const present = ids.filter((id) => actual.has(id)).length;
      expect([0, ids.length], `${parser}: ${name} row ${JSON.stringify(row.labels)} is whole or absent`).toContain(present);
      if (mustAppear(row, c)) expect(present, `${parser}: ${name} row ${JSON.stringify(row.labels)} must appear`).toBe(ids.length);
      if (present === 0) absent++;
    }
    for (const [id, count] of actual) expect(count, `${parser}: ${name} sample ${id} is one of the table's`).toBeLessThanOrEqual(expected.get(id) ?? 0);
  }
  return absent;
}

/** The gateway's own parser: keys and values exactly as stored (names escaped as the scheme says). */
function checkOwnParser(families: Family[], kept: Entry[], c: Case): number {
  let absent = 0;
  for (const f of kept) {
    const exposed = escapeMetricName(f.name, c.escaping);
    const name = c.format === "openmetrics" && f.type === "counter" && !exposed.endsWith("_total") ? `${exposed}_total` : exposed;
    const p = families.find((x) => x.name === name);
    expect(p, `own parser: family ${name}`).toBeDefined();
    if (p === undefined) continue;
    expect(p.help).toBe(f.help);
    const byKey = new Map<string, string>();
    p.keys.forEach((key, i) => byKey.set(key, JSON.stringify(ownValue(p.values[i]))));
    for (const row of f.rows) {
      const key = escapeKey(labelKey(row.labels), c.escaping);
      const got = byKey.get(key);
      const want = JSON.stringify(ownValue(row.value));
      if (got === want) byKey.delete(key);
      else absent++;
      if (mustAppear(row, c)) expect(got, `own parser: ${name}{${key}}`).toBe(want);
    }
    expect([...byKey.keys()], `own parser: ${name} series not in the table`).toEqual([]);
  }
  return absent;
}

/** Any stored or parsed value as canonical strings. */
function ownValue(v: unknown): unknown {
  if (typeof v === "number") return canon(v);
  if (v instanceof Float64Array) {
    const n = (v.length - 2) >> 1;
    const a = [...v].map(canon);
    return { sum: a[0], count: a[1], at: a.slice(2, 2 + n), values: a.slice(2 + n) };
  }
  if (typeof v === "object" && v !== null) {
    const o = v as { bounds?: number[]; quantiles?: number[]; counts?: number[]; values?: number[]; sum?: number; count?: number };
    return { sum: canon(o.sum ?? NaN), count: canon(o.count ?? NaN), at: (o.bounds ?? o.quantiles ?? []).map(canon), values: (o.counts ?? o.values ?? []).map(canon) };
  }
  return v;
}

function totalOmitted(o: Omitted): number {
  return Object.values(o).reduce((a, b) => a + (b ?? 0), 0);
}

describe("exposition output read by real parsers", () => {
  it("has promtool and /usr/bin/python3 with prometheus_client", () => {
    const t = requireTools();
    expect(t.promtool).toMatch(/promtool$/);
  });

  it.each(CASES)("$format with escaping=$escaping", (c) => {
    requireTools();
    const { kept, body, omitted, dropped } = scrape(c);
    expect(dropped).toEqual(DROPPED[c.format][c.escaping]);

    // The gateway's own parser reads every combination, quoted names included.
    const pushable = scrape(c, (row) => row.push !== false && !(row.push ?? []).includes(c.escaping));
    const ownAbsent = checkOwnParser(parseExposition(pushable.body, c.format), pushable.kept, c);
    expect(ownAbsent, `rows left out vs counted ${JSON.stringify(pushable.omitted)}`).toBe(totalOmitted(pushable.omitted));

    // prometheus_client: all of it when escaped; with allow-utf-8 the families without quoted names.
    const legacy = kept.filter((f) => allLegacy(f, c.escaping));
    const options: RenderOptions = { openmetrics: c.format === "openmetrics", escaping: c.escaping };
    const pyBody = legacy.map((f) => renderFamily(view(f), options)).join("") + (options.openmetrics ? "# EOF\n" : "");
    const docs = [{ parser: c.format, body: pyBody }];
    const [result] = runPython(docs);
    if (result === undefined || !result.ok) throw new Error(`prometheus_client's ${c.format} parser rejected the output: ${result?.error ?? "no result"}\n${pyBody}`);
    const pyAbsent = checkPython(result.families, legacy, c, `prometheus_client ${c.format}`);
    if (c.escaping !== "allow-utf-8") expect(pyAbsent).toBe(totalOmitted(omitted));
    expect(legacy.length).toBeGreaterThan(c.escaping === "allow-utf-8" ? 3 : kept.length - 1);

    // promtool (Prometheus 2.42's parser): escaped text.
    if (c.format === "text" && c.escaping !== "allow-utf-8") {
      const r = promtool(body);
      expect([0, 3], `promtool check metrics failed:\n${r.stderr}\n${body}`).toContain(r.status);
      expect(r.stderr).not.toMatch(/error while linting/);
    }
  });

  it("reads label values, HELP, edge values and escaped label sets back exactly (spot checks)", () => {
    const dots = runPython([{ parser: "text", body: scrape({ format: "text", escaping: "dots" }).body }])[0];
    if (dots === undefined || !dots.ok) throw new Error(dots?.error ?? "no result");
    const metric = dots.families.find((f) => f.name === "my_dot_metric");
    expect(metric?.help).toBe('Help with \\ backslash,\nnewline, "quotes", \\n literally, and ü😱');
    expect(metric?.samples).toEqual([
      ["my_dot_metric", {}, "1.0"],
      ["my_dot_metric", { a: TRICKY_VALUE }, "3.0"],
      ["my_dot_metric", { a: "x", k8s_dot_pod: "p-1" }, "2.0"],
    ]);

    const underscores = runPython([{ parser: "text", body: scrape({ format: "text", escaping: "underscores" }).body }])[0];
    if (underscores === undefined || !underscores.ok) throw new Error(underscores?.error ?? "no result");
    const edge = underscores.families.find((f) => f.name === "edge_values");
    expect(edge?.samples.map(([, labels, v]) => [labels.i, canon(num(v))])).toEqual(EDGE_VALUES.map((v, i) => [String(i), canon(v)]));
    // Unescaped series first; then escaped ones, less those that clash: a.b (as a_b="1"), a.b+a_b (a
    // label twice), ..name__ (__name__), a:b (as a_b="1").
    const dup = underscores.families.find((f) => f.name === "dup_labels");
    expect(dup?.samples.map(([, labels, v]) => [labels, v])).toEqual([
      [{ a_b: "1" }, "2.0"],
      [{ _name_: "y" }, "5.0"],
      [{ _x: "1" }, "7.0"],
    ]);
  });
});
