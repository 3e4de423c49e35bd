// parseExposition (text 0.0.4 and OpenMetrics 1.0), its canonical label keys, parseNumber, and the name rules in names.ts.
import { describe, expect, it } from "vitest";
import { GatewayError } from "../src/common/errors";
import { type ParseOptions, parseExposition, parseNumber } from "../src/wire/exposition/parse";
import { withGroupingLabels } from "../src/wire/grouping";
import { prepare } from "../src/worker/validate";
import type { Family, Histogram, LabelPairs, Summary } from "../src/common/model";
import { checkLabelName, checkMetricName, isLegacyLabelName, isLegacyMetricName, labelNameProblem, metricNameProblem } from "../src/common/names";
import { prng } from "./prng";

function text(body: string, options?: ParseOptions): Family[] {
  return parseExposition(body, "text", options);
}

function om(body: string, options?: ParseOptions): Family[] {
  return parseExposition(body, "openmetrics", options);
}

function errorOf(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error("expected a GatewayError, nothing was thrown");
}

/** The ParseError message for a text body. */
function textError(body: string): string {
  const e = errorOf(() => text(body));
  expect(e.name).toBe("ParseError");
  return e.message;
}

/** The ParseError message for an OpenMetrics body. */
function omError(body: string): string {
  const e = errorOf(() => om(body));
  expect(e.name).toBe("ParseError");
  return e.message;
}

/** A counter, gauge or untyped family's series as `[key, value]`. */
function scalars(f: Family | undefined): [string, number][] {
  if (f === undefined) return [];
  if (f.type === "histogram" || f.type === "summary") throw new Error(`expected a scalar family, got ${f.type}`);
  return f.keys.map((key, i) => [key, f.values[i] ?? NaN]);
}

/** The value of series `i` of a histogram family. */
function histogram(f: Family | undefined, i = 0): Histogram {
  const v = f?.type === "histogram" ? f.values[i] : undefined;
  if (v === undefined) throw new Error("expected a histogram series");
  return v;
}

/** The value of series `i` of a summary family. */
function summary(f: Family | undefined, i = 0): Summary {
  const v = f?.type === "summary" ? f.values[i] : undefined;
  if (v === undefined) throw new Error("expected a summary series");
  return v;
}

/**
 * The labels a key stands for, as an object (for readable assertions), decoded here rather than
 * with labels.ts: `a="x",b="y"`, names quoted when not `[a-zA-Z_][a-zA-Z0-9_]*`, `\\ \" \n` escaped.
 */
function labelsOf(key: string | undefined): Record<string, string> {
  const k = key ?? "";
  const out: Record<string, string> = {};
  let i = 0;
  const quoted = (): string => {
    let text = "";
    for (i++; k[i] !== '"'; i++) {
      if (i >= k.length) throw new Error(`unterminated string in key ${k}`);
      if (k[i] === "\\") text += k[++i] === "n" ? "\n" : (k[i] ?? "");
      else text += k[i];
    }
    i++;
    return text;
  };
  while (i < k.length) {
    let name: string;
    if (k[i] === '"') {
      name = quoted();
    } else {
      const eq = k.indexOf("=", i);
      name = k.slice(i, eq);
      i = eq;
    }
    i++; // '='
    out[name] = quoted();
    i++; // ','
  }
  return out;
}

/** Escapes a label value the way the exposition formats require (\\, \", \n). */
function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * The canonical key of a label set, written out independently of labels.ts (the reference the
 * random tests compare with): pairs with an empty value left out, sorted by name in UTF-16 order,
 * `name="value"` with `\\ \" \n` escaped, names quoted unless `[a-zA-Z_][a-zA-Z0-9_]*`.
 */
function referenceKey(pairs: LabelPairs): string {
  const kept: [string, string][] = [];
  for (let i = 0; i < pairs.length; i += 2) if ((pairs[i + 1] ?? "") !== "") kept.push([pairs[i] ?? "", pairs[i + 1] ?? ""]);
  kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return kept.map(([n, v]) => `${/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(n) ? n : `"${escapeLabelValue(n)}"`}="${escapeLabelValue(v)}"`).join(",");
}

describe("text format: families and samples", () => {
  it("parses HELP, TYPE, labels (as canonical keys: sorted by name) and values", () => {
    const families = text(
      [
        "# HELP http_requests_total Requests handled.",
        "# TYPE http_requests_total counter",
        'http_requests_total{method="GET",code="200"} 1027',
        'http_requests_total{method="POST",code="400"} 3',
        "# TYPE temperature gauge",
        "temperature -3.5",
        "no_metadata 1",
        "",
      ].join("\n"),
    );
    expect(families).toEqual([
      {
        name: "http_requests_total",
        type: "counter",
        help: "Requests handled.",
        unit: "",
        keys: ['code="200",method="GET"', 'code="400",method="POST"'],
        values: [1027, 3],
        unique: true,
      },
      { name: "temperature", type: "gauge", help: "", unit: "", keys: [""], values: [-3.5], unique: true },
      { name: "no_metadata", type: "untyped", help: "", unit: "", keys: [""], values: [1], unique: true },
    ]);
  });

  it("keeps the last sample when the body does not end with a newline", () => {
    expect(scalars(text("a 1\nb 2")[1])).toEqual([["", 2]]);
    expect(scalars(text('a{x="y"} 7')[0])).toEqual([['x="y"', 7]]);
    expect(scalars(text("# TYPE a gauge\na 3 1700000000000")[0])[0]?.[1]).toBe(3);
  });

  it("parses a large body without losing the last series", () => {
    const lines: string[] = ["# TYPE big gauge"];
    for (let i = 0; i < 10_000; i++) lines.push(`big{i="${i}",shard="${i % 7}"} ${i}`);
    const families = text(lines.join("\n"));
    const series = scalars(families[0]);
    expect(series).toHaveLength(10_000);
    expect(series[9_999]).toEqual(['i="9999",shard="3"', 9_999]);
  });

  it("accepts an empty body, blank lines, comments, blanks and CRLF line ends", () => {
    expect(text("")).toEqual([]);
    const families = text("\n# just a comment\n#\n   \n\t# TYPE a gauge\n  a { x = \"1\" , y=\"2\" , }\t 5 \t\r\n\n#TYPE b counter\r\nb 1\r\n");
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ["a", "gauge"],
      ["b", "counter"],
    ]);
    expect(scalars(families[0])).toEqual([['x="1",y="2"', 5]]);
  });

  it('treats "# HELP" / "# TYPE" without a name, or with nothing after the name, as comments (as the Pushgateway does)', () => {
    const families = text("# HELP\n# TYPE\n# HELP a\n# TYPE a \t\na 1\n# HELP a\n# HELP b\n");
    expect(families).toEqual([{ name: "a", type: "untyped", help: "", unit: "", keys: [""], values: [1], unique: true }]);
    // A name that is not one is still an error, as there.
    expect(textError("# TYPE met-ric\n")).toMatch(/^line 1, column 11: found "-" in metric name "met"/);
  });

  it("returns a family announced by metadata alone with no series", () => {
    expect(text("# HELP lonely Nothing yet.\n# TYPE lonely counter\n")).toEqual([
      { name: "lonely", type: "counter", help: "Nothing yet.", unit: "", keys: [], values: [], unique: true },
    ]);
  });

  it("leaves labels with empty values out of the key and sorts the rest by name", () => {
    expect(scalars(text('a{z="",b="x"} 1')[0])[0]?.[0]).toBe('b="x"');
    expect(scalars(text('a{z=""} 1')[0])[0]?.[0]).toBe("");
    expect(scalars(text('a{c="3",a="1",b="2"} 1')[0])[0]?.[0]).toBe('a="1",b="2",c="3"');
  });

  it('ignores "# UNIT" and "# EOF" in the text format (they are comments there)', () => {
    expect(text("# UNIT a_seconds seconds\na_seconds 1\n# EOF\n")[0]?.unit).toBe("");
  });
});

describe("escapes", () => {
  it("unescapes label values and round-trips them", () => {
    const values = ['back\\slash', 'quo"te', "new\nline", '\\"\n\\\\', "plain ✓ ☃ 😀", ""];
    const body = values.map((v, i) => `a{i="${i}",v="${escapeLabelValue(v)}"} ${i}`).join("\n");
    const series = scalars(text(body)[0]);
    // The empty value is no label: that key has only i.
    expect(series.map(([key]) => labelsOf(key)["v"] ?? "")).toEqual(values);
    const again = series.map(([key], i) => `a{i="${i}",v="${escapeLabelValue(labelsOf(key)["v"] ?? "")}"} ${i}`).join("\n");
    expect(again).toBe(body);
    // A key escapes values as the exposition formats do: here, as the body wrote them.
    expect(series[3]?.[0]).toBe(`i="3",v="${escapeLabelValue(values[3] ?? "")}"`);
    expect(series[3]?.[0]).toBe('i="3",v="\\\\\\"\\n\\\\\\\\"');
  });

  it("rejects unknown escape sequences in quoted text (text format, as the Pushgateway does), naming line and column", () => {
    expect(textError('a{v="a\\zb"} 1\n')).toMatch(/^line 1, column 7: invalid escape sequence "\\z" in a quoted string; the text format knows only/);
    expect(textError('a 1\nb{v="\\t"} 2\n')).toMatch(/^line 2, column 6: invalid escape sequence "\\t"/);
    expect(textError('{"my\\.metric"} 1\n')).toMatch(/^line 1, column 5: invalid escape sequence "\\\."/);
    expect(textError('a{"k\\x"="1"} 1\n')).toMatch(/^line 1, column 5: invalid escape sequence "\\x"/);
    expect(textError('# TYPE "a\\tb" gauge\n')).toMatch(/^line 1, column 10: invalid escape sequence "\\t"/);
    expect(textError('a{v="x\\\ty"} 1\n')).toMatch(/^line 1, column 7: invalid escape sequence "\\" followed by U\+0009/);
  });

  it("keeps unknown escape sequences as written in OpenMetrics, as its test vectors require", () => {
    const [key] = scalars(om('a{v="a\\zb\\t"} 1\n# EOF\n')[0])[0] ?? [];
    expect(labelsOf(key)).toEqual({ v: "a\\zb\\t" });
    // The key escapes the backslashes kept in the value.
    expect(key).toBe('v="a\\\\zb\\\\t"');
  });

  it("unescapes \\\\, \\n and \\\" in HELP; other escapes are errors in the text format and kept in OpenMetrics", () => {
    expect(text('# HELP a one\\\\two\\nthree \\"q\\"\na 1\n')[0]?.help).toBe('one\\two\nthree "q"');
    expect(textError("# HELP a one \\x\n")).toMatch(/^line 1, column 14: invalid escape sequence "\\x" in HELP text/);
    expect(textError("# HELP a ends with \\\n")).toMatch(/^line 1, column 20: the HELP text ends with a lone backslash/);
    expect(textError("# HELP a ends with \\\r\n")).toMatch(/^line 1, column 20: the HELP text ends with a lone backslash/);
    expect(om('# HELP a one\\\\two\\nthree \\"q\\" \\x\\\na 1\n# EOF\n')[0]?.help).toBe('one\\two\nthree "q" \\x\\');
  });

  it("rejects lone UTF-16 surrogates in label values and HELP (what invalid UTF-8 is in a string), in both formats", () => {
    expect(textError('a{v="x\ud800"} 1\n')).toMatch(/^line 1, column 7: lone UTF-16 surrogate U\+D800: the text is not valid Unicode/);
    expect(textError('a{v="\udc00x"} 1\n')).toMatch(/^line 1, column 6: lone UTF-16 surrogate U\+DC00/);
    expect(textError('a{v="\\n\ud800"} 1\n')).toMatch(/^line 1, column 8: lone UTF-16 surrogate U\+D800/);
    expect(textError("# HELP a x\udbff\n")).toMatch(/^line 1, column 11: lone UTF-16 surrogate U\+DBFF/);
    expect(omError('a{v="\ud800"} 1\n# EOF\n')).toMatch(/^line 1, column 6: lone UTF-16 surrogate/);
    expect(errorOf(() => text('{"a\ud800"} 1\n')).message).toMatch(/^line 1, column 2: metric name "a\\ud800" is not valid UTF-8/);
    // A pair is fine.
    expect(labelsOf(scalars(text('a{v="😀"} 1\n')[0])[0]?.[0])).toEqual({ v: "😀" });
    expect(text("# HELP a 😀\n")[0]?.help).toBe("😀");
  });

  it("reports an unterminated label value where it starts", () => {
    expect(textError('a{v="abc} 1\n')).toMatch(/^line 1, column 5: unterminated quoted string/);
    expect(textError('a 1\nb{v="x\\"} 2')).toMatch(/^line 2, column 5: unterminated quoted string/);
  });
});

describe("values", () => {
  it("accepts Go float syntax, NaN and infinities in any case", () => {
    const cases: [string, number][] = [
      ["1", 1],
      ["-2", -2],
      ["+3", 3],
      ["1.5", 1.5],
      [".5", 0.5],
      ["5.", 5],
      ["1e3", 1000],
      ["1E-3", 0.001],
      ["-1.5e+2", -150],
      ["0000000000000000000000000000000000000000001.2e-1", 0.12],
      ["9223372036854775808", 9223372036854775808],
      ["0.013300656000000001", 0.013300656000000001],
      ["+Inf", Infinity],
      ["-Inf", -Infinity],
      ["Inf", Infinity],
      ["inf", Infinity],
      ["+infinity", Infinity],
      ["-Infinity", -Infinity],
    ];
    for (const [written, expected] of cases) {
      expect(scalars(text(`a ${written}\n`)[0])[0]?.[1], written).toBe(expected);
    }
    expect(scalars(text("a NaN\n")[0])[0]?.[1]).toBeNaN();
    expect(scalars(text("a nan\n")[0])[0]?.[1]).toBeNaN();
    expect(Object.is(scalars(text("a -0\n")[0])[0]?.[1], -0)).toBe(true);
  });

  it("rounds decimals exactly like Number()", () => {
    for (const v of ["0.1", "0.3", "123.456", "1e-7", "4.35", "2.675", "1e22", "1e23", "123456789012345.6", "0.000001", "3.14159265358979"]) {
      expect(parseNumber(v, 0, v.length), v).toBe(Number(v));
    }
  });

  it("rejects underscores, hex, octal, binary and other non-decimal forms", () => {
    for (const v of ["1_2", "0x1p-3", "0x10", "0X1", "0o7", "0b1", "1e", "1e+", ".", "+", "-", "--1", "1.2.3", "+nan", "Infinityx", "in", "1f", "١"]) {
      expect(parseNumber(v, 0, v.length), v).toBeUndefined();
      expect(textError(`a ${v}\n`), v).toMatch(/^line 1, column 3: invalid sample value/);
    }
  });

  it("reports a missing value, extra fields and text-format exemplars", () => {
    expect(textError("a\n")).toMatch(/^line 1, column 2: sample "a" has no value/);
    expect(textError("a \n")).toMatch(/^line 1, column 3: expected the sample value/);
    expect(textError('a{b="c"}\n')).toMatch(/^line 1, column 9: expected a blank and the sample value/);
    expect(textError("a\u00a01\n")).toMatch(/^line 1, column 2: found "\u00a0" in metric name/);
    // After '}' the value may follow at once, as the Pushgateway reads it; OpenMetrics wants one space.
    expect(scalars(text('a{b="c"}1\n{"d"}-Inf\n')[0])).toEqual([['b="c"', 1]]);
    expect(scalars(text('a{b="c"}1\n{"d"}-Inf\n')[1])).toEqual([["", -Infinity]]);
    expect(omError('a{b="c"}1\n# EOF\n')).toMatch(/^line 1, column 9: expected a space before the sample value/);
    expect(textError("a 1 2 3\n")).toMatch(/^line 1, column 7: found "3" after the timestamp/);
    expect(textError('a 1 # {trace_id="x"} 1\n')).toMatch(/^line 1, column 5: exemplars are only allowed in OpenMetrics/);
  });
});

describe("timestamps", () => {
  it("parses integer milliseconds in text and float seconds in OpenMetrics", () => {
    expect(scalars(text("a 1 1700000000000\nb 2 -5\n")[1])[0]?.[1]).toBe(2);
    expect(textError("a 1 1.5\n")).toMatch(/^line 1, column 5: invalid timestamp "1.5"; the text format's timestamps are integer milliseconds/);
    expect(textError("a 1 1_000\n")).toMatch(/^line 1, column 5: invalid timestamp/);
    expect(scalars(om("a 1 1700000000.25\n# EOF\n")[0])[0]?.[1]).toBe(1);
    expect(omError("a 1 NaN\n# EOF\n")).toMatch(/^line 1, column 5: invalid sample timestamp "NaN"/);
  });

  it("rejects timestamps with allowTimestamps: false, as the gateway needs", () => {
    const e = errorOf(() => text("a 1\nb 2 1700000000000\n", { allowTimestamps: false }));
    expect(e.name).toBe("InvalidValue");
    expect(e.message).toBe("line 2: sample has a timestamp; the gateway stamps its own time on export, remove the timestamp");
    expect(errorOf(() => om("a 1 17.5\n# EOF\n", { allowTimestamps: false })).name).toBe("InvalidValue");
    expect(text("a 1\n", { allowTimestamps: false })).toHaveLength(1);
  });

  it("keeps the newest point of an OpenMetrics series repeated with timestamps", () => {
    const families = om('a{x="1"} 1 10\na{x="1"} 2 11\na{x="1"} 3 11\na{x="2"} 4 10\n# EOF\n');
    expect(scalars(families[0])).toEqual([
      ['x="1"', 3],
      ['x="2"', 4],
    ]);
    expect(omError("a 1 11\na 2 10\n# EOF\n")).toMatch(/^line 2, column 5: timestamp goes backwards/);
    expect(omError("a 1\na 2 10\n# EOF\n")).toMatch(/^line 2, column 5: some samples of series \{\} have a timestamp and others do not/);
  });
});

describe("histograms and summaries", () => {
  const hist = [
    "# HELP rpc_seconds RPC latency.",
    "# TYPE rpc_seconds histogram",
    'rpc_seconds_bucket{le="0.05",method="GET"} 1',
    'rpc_seconds_bucket{method="GET",le="0.1"} 4',
    'rpc_seconds_bucket{method="GET",le="+Inf"} 5',
    'rpc_seconds_sum{method="GET"} 1.25',
    'rpc_seconds_count{method="GET"} 5',
    'rpc_seconds_bucket{method="PUT",le="1e-3"} 0',
    'rpc_seconds_bucket{method="PUT",le="+inf"} 2',
    "",
  ].join("\n");

  it("groups _bucket/_sum/_count by labels, without le", () => {
    const [f] = text(hist);
    expect(f?.name).toBe("rpc_seconds");
    expect(f?.type).toBe("histogram");
    expect(f?.keys).toEqual(['method="GET"', 'method="PUT"']);
    expect(f?.values).toEqual([
      { bounds: [0.05, 0.1, Infinity], counts: [1, 4, 5], sum: 1.25, count: 5 },
      { bounds: [0.001, Infinity], counts: [0, 2], sum: undefined, count: undefined },
    ]);
  });

  it("accepts a text histogram whose series' samples are interleaved", () => {
    const [f] = text('# TYPE h histogram\nh_bucket{a="1",le="+Inf"} 1\nh_bucket{a="2",le="+Inf"} 2\nh_count{a="1"} 1\nh_count{a="2"} 2\n');
    expect(f?.keys).toEqual(['a="1"', 'a="2"']);
    expect([histogram(f, 0).count, histogram(f, 1).count]).toEqual([1, 2]);
  });

  it("checks bucket order, cumulative counts, +Inf and _count", () => {
    const head = "# TYPE h histogram\n";
    expect(textError(`${head}h_bucket{le="1"} 1\n`)).toMatch(/^line 2, column 1: histogram "h" series \{\} has no le="\+Inf" bucket; every histogram needs one, equal to its count \(or at least a _count/);
    expect(textError(`${head}h_sum 1\n`)).toMatch(/^line 2, column 1: histogram "h" series \{\} has no le="\+Inf" bucket/);
    expect(textError(`${head}h_bucket{le="1"} 3\nh_count 2\n`)).toMatch(/^line 2, column 1: histogram "h" series \{\}: _count 2 is less than the le="1" bucket's 3, so it cannot be the le="\+Inf" bucket/);
    expect(textError(`${head}h_bucket{le="2"} 1\nh_bucket{le="1"} 1\n`)).toMatch(/^line 3, column 14: bucket le="1" comes after le="2"/);
    expect(textError(`${head}h_bucket{le="1"} 1\nh_bucket{le="1.0"} 1\n`)).toMatch(/^line 3, column 14: bucket le="1.0" appears twice/);
    expect(textError(`${head}h_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\n`)).toMatch(/^line 3, column 21: bucket count 2 is less than the previous bucket's 3/);
    expect(textError(`${head}h_bucket{le="+Inf"} -1\n`)).toMatch(/^line 2, column 21: bucket count -1 is not a non-negative number/);
    expect(textError(`${head}h_bucket{le="+Inf"} 2\nh_count 3\n`)).toMatch(/^line 2, column 1: histogram "h" series \{\}: _count 3 differs from the le="\+Inf" bucket 2/);
    expect(textError(`${head}h_bucket 1\n`)).toMatch(/^line 2, column 1: histogram bucket sample needs a "le" label/);
    expect(textError(`${head}h_bucket{le="x"} 1\n`)).toMatch(/^line 2, column 14: le="x" is not a number/);
    expect(textError(`${head}h_bucket{le="NaN"} 1\n`)).toMatch(/^line 2, column 14: le="NaN" is not a number/);
    expect(textError(`${head}h_bucket{le="+Inf"} 1\nh_sum 1\nh_sum 2\n`)).toMatch(/^line 4, column 1: duplicate _sum/);
    expect(textError(`${head}h_bucket{le="+Inf"} 1\nh_count 1\nh_count 1\n`)).toMatch(/^line 4, column 1: duplicate _count/);
  });

  it("adds the +Inf bucket of a text histogram that has a _count but none (as expfmt writes it out); OpenMetrics needs it", () => {
    const [f] = text('# TYPE h histogram\nh_bucket{a="1",le="1"} 1\nh_bucket{a="1",le="2"} 3\nh_sum{a="1"} 4\nh_count{a="1"} 3.5\nh_sum{a="2"} 1\nh_count{a="2"} 2\n');
    expect(f?.keys).toEqual(['a="1"', 'a="2"']);
    expect(f?.values).toEqual([
      { bounds: [1, 2, Infinity], counts: [1, 3, 3.5], sum: 4, count: 3.5 },
      { bounds: [Infinity], counts: [2], sum: 1, count: 2 },
    ]);
    expect(omError('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n# EOF\n')).toMatch(/^line 2, column 1: histogram "h" series \{\} has no le="\+Inf" bucket; every histogram needs one, equal to its count$/);
  });

  it("groups summaries by labels, without quantile", () => {
    const [f] = text('# TYPE s summary\ns{quantile="0.5",x="1"} 2\ns{x="1",quantile="0.99"} NaN\ns_sum{x="1"} -7\ns_count{x="1"} 3\n');
    expect(f?.keys).toEqual(['x="1"']);
    expect(summary(f)).toEqual({ quantiles: [0.5, 0.99], values: [2, NaN], sum: -7, count: 3 });
    expect(textError('# TYPE s summary\ns 1\n')).toMatch(/^line 2, column 1: summary quantile sample needs a "quantile" label/);
    expect(textError('# TYPE s summary\ns{quantile="1.5"} 1\n')).toMatch(/^line 2, column 13: quantile 1.5 is outside \[0, 1\]/);
    expect(textError('# TYPE s summary\ns{quantile="0.5"} 1\ns{quantile="0.50"} 1\n')).toMatch(/^line 3, column 13: quantile 0.50 appears twice/);
  });

  it("keeps a bucket-like sample of an untyped family as a plain series", () => {
    expect(scalars(text('h_bucket{le="1"} 1\n')[0])[0]?.[0]).toBe('le="1"');
  });

  it("merges a text histogram's samples after another family's into it; a sample that fits no role is an error", () => {
    const families = text('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nx 1\nh_sum 2\n');
    expect(families.map((f) => f.name)).toEqual(["h", "x"]);
    expect(histogram(families[0])).toEqual({ bounds: [Infinity], counts: [1], sum: 2, count: undefined });
    expect(textError('# TYPE h histogram\nh 1\n')).toMatch(/^line 2, column 1: sample "h" does not fit the histogram "h", whose samples are named "h_bucket", "h_sum", "h_count"/);
    expect(textError('# TYPE h histogram\nh_sum 1\nx 1\nh 1\n')).toMatch(/^line 4, column 1: sample "h" does not fit the histogram "h"/);
    expect(omError('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nx 1\nh_sum 2\n# EOF\n')).toMatch(/^line 4, column 1: metric name "h_sum" clashes with the histogram "h" at line 1/);
  });
});

describe("names", () => {
  it("accepts quoted UTF-8 metric and label names", () => {
    const families = text('# HELP "my.metric" Dotted.\n# TYPE "my.metric" gauge\n{"my.metric",a="b"} 1\n{"my.metric", "k8s.pod"="p-1"} 2\nplain{"ünïcode label"="v"} 3\n{"only.name"} 4\n');
    expect(families.map((f) => [f.name, f.type, f.help])).toEqual([
      ["my.metric", "gauge", "Dotted."],
      ["plain", "untyped", ""],
      ["only.name", "untyped", ""],
    ]);
    // Names outside [a-zA-Z_][a-zA-Z0-9_]* are quoted in keys, as in the exposition formats.
    expect(scalars(families[0]).map(([key]) => key)).toEqual(['a="b"', '"k8s.pod"="p-1"']);
    expect(scalars(families[1])[0]?.[0]).toBe('"ünïcode label"="v"');
    expect(scalars(om('{"a.b_total"} 1\n# TYPE "c.d" counter\n{"c.d_total",x="1"} 2\n# EOF\n')[1])[0]?.[0]).toBe('x="1"');
  });

  it("treats a quoted legacy name like the plain one", () => {
    expect(textError('a 1\n{"a"} 2\n')).toMatch(/^line 2, column 1: duplicate series a\{\}/);
    expect(textError('a 1\nb 1\n{"a"} 2\n')).toMatch(/^line 3, column 1: duplicate series a\{\}/);
    expect(textError('a{b="1"} 1\na{"b"="1"} 2\n')).toMatch(/^line 2, column 1: duplicate series a\{b="1"\}/);
  });

  it("reports invalid metric names where they are", () => {
    expect(textError("0a 1\n")).toMatch(/^line 1, column 1: metric name "0a" starts with a digit/);
    expect(textError("ok 1\na.b 1\n")).toMatch(/^line 2, column 2: found "\." in metric name "a\.b"; .* \{"a\.b"\} 1/);
    expect(textError("a-b 1\n")).toMatch(/^line 1, column 2: found "-" in metric name "a-b"/);
    expect(textError('{a="b"} 1\n')).toMatch(/^line 1, column 1: the sample has no metric name: write it before '\{' or quote it inside the braces/);
    expect(textError('{"a"="b"} 1\n')).toMatch(/^line 1, column 1: the sample has no metric name/);
    expect(textError("{} 1\n")).toMatch(/^line 1, column 1: the sample has no metric name/);
    expect(textError('{"a","b"} 1\n')).toMatch(/^line 1, column 6: "b" is a second metric name: a sample has one/);
    expect(textError('{x="1","a", "b"} 1\n')).toMatch(/^line 1, column 13: "b" is a second metric name/);
    expect(textError('a{"b"} 1\n')).toMatch(/^line 1, column 6: expected '=' after label name "b"/);
    expect(omError('{a="b"} 1\n# EOF\n')).toMatch(/^line 1, column 2: expected the metric name as a quoted string after '\{'/);
    expect(omError('{"a"="b"} 1\n# EOF\n')).toMatch(/^line 1, column 2: the sample has no metric name/);
    expect(textError('{""} 1\n')).toMatch(/^line 1, column 2: metric name is empty/);
    expect(textError('{"a" x} 1\n')).toMatch(/^line 1, column 6: expected ',' or '\}' after the quoted metric name, found "x"/);
    expect(textError("=1\n")).toMatch(/^line 1, column 1: expected a metric name at the start of the line, found "="/);
  });

  it("finds a quoted metric name anywhere among the labels (text format, as the Pushgateway does)", () => {
    const families = text('{a="1", "my.metric"} 1\n{ b = "2" , "my.metric" , } 2\n{"my.metric",a="3"} 3\n{c="4","d"="5","my.metric",e="6"} 4\n');
    expect(families).toEqual([
      { name: "my.metric", type: "untyped", help: "", unit: "", keys: ['a="1"', 'b="2"', 'a="3"', 'c="4",d="5",e="6"'], values: [1, 2, 3, 4], unique: true },
    ]);
    // The name decides the family and the role, wherever it is.
    const [h] = text('# TYPE "h.x" histogram\n{le="+Inf","h.x_bucket"} 2\n{"h.x_count"} 2\n');
    expect(histogram(h)).toEqual({ bounds: [Infinity], counts: [2], sum: undefined, count: 2 });
    // Errors elsewhere in the labels are still reported as such.
    expect(textError('{a=1,"m"} 1\n')).toMatch(/^line 1, column 4: expected '"' to open the value of label "a"/);
    expect(textError('{a="1","m",a="2"} 1\n')).toMatch(/^line 1, column 12: label "a" appears twice/);
    expect(textError('{a="1","m"} 1\n{"m",a="1"} 2\n')).toMatch(/^line 2, column 1: duplicate series m\{a="1"\}/);
    expect(omError('{a="1","m"} 1\n# EOF\n')).toMatch(/^line 1, column 2: expected the metric name as a quoted string after '\{'/);
  });

  it("reports invalid label names where they are", () => {
    expect(textError('a{1x="1"} 1\n')).toMatch(/^line 1, column 3: label name "1x" starts with a digit/);
    expect(textError('a{__name__="x"} 1\n')).toMatch(/^line 1, column 3: label name "__name__" starts with "__", which Prometheus reserves/);
    expect(textError('a{"__x"="1"} 1\n')).toMatch(/^line 1, column 3: label name "__x" starts with "__"/);
    expect(textError('a{""="1"} 1\n')).toMatch(/^line 1, column 3: label name is empty/);
    expect(textError('a{b.c="1"} 1\n')).toMatch(/^line 1, column 4: expected '=' after label name "b", found "\."/);
  });
});

describe("label syntax errors", () => {
  it("gives line and column for each", () => {
    expect(textError('a 1\nhttp_requests_total{code} 1\n')).toMatch(/^line 2, column 25: expected '=' after label name "code", found "\}"/);
    expect(textError('a{code=200} 1\n')).toMatch(/^line 1, column 8: expected '"' to open the value of label "code", found "2"; label values are double-quoted/);
    expect(textError("a{code='200'} 1\n")).toMatch(/^line 1, column 8: expected '"' to open the value of label "code"/);
    expect(textError('a{x="1"y="2"} 1\n')).toMatch(/^line 1, column 8: expected ',' or '\}' after the value of label "x", found "y"/);
    expect(textError('a{x="1",,y="2"} 1\n')).toMatch(/^line 1, column 9: expected a label name, found ","/);
    expect(textError('a{x="1"')).toMatch(/^line 1, column 8: expected ',' or '\}' after the value of label "x", found the end of the body/);
    expect(textError('a{x="1",x="2"} 1\n')).toMatch(/^line 1, column 9: label "x" appears twice in the same series/);
    expect(textError('a{b="1",a="2",b="3"} 1\n')).toMatch(/^line 1, column 15: label "b" appears twice in the same series/);
  });

  it("counts columns in characters, not UTF-16 units", () => {
    expect(textError('a{x="😀😀",y=1} 1\n')).toMatch(/^line 1, column 12: expected '"' to open the value of label "y"/);
  });
});

describe("canonical label keys", () => {
  function pickOne<T>(rand: () => number, xs: readonly T[]): T {
    const x = xs[Math.floor(rand() * xs.length)];
    if (x === undefined) throw new Error("nothing to pick from");
    return x;
  }

  /** How a test writes one label: the name plain or quoted, and blanks around the '='. */
  interface Spelling {
    quoteName: boolean;
    blanks: boolean;
  }

  /** `name="value"` as a body writes it, escaping `\\ \" \n` in the name (when quoted) and the value. */
  function writePair(name: string, value: string, spelling: Spelling): string {
    const n = spelling.quoteName || !isLegacyLabelName(name) ? `"${escapeLabelValue(name)}"` : name;
    return spelling.blanks ? `${n} = "${escapeLabelValue(value)}"` : `${n}="${escapeLabelValue(value)}"`;
  }

  function permutations<T>(items: readonly T[]): T[][] {
    if (items.length <= 1) return [[...items]];
    const out: T[][] = [];
    items.forEach((item, i) => {
      for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([item, ...rest]);
    });
    return out;
  }

  // Label sets to write every which way, with their canonical keys: plain and quoted names, escapes,
  // non-ASCII, names that are prefixes of each other, and a name that sorts differently by code unit
  // than by code point (U+1F600 is the pair D83D DE00, before U+FFFF).
  const sets: [LabelPairs, string][] = [
    [[], ""],
    [["a", "1"], 'a="1"'],
    [["code", "200", "method", "GET", "path", "/api/v1"], 'code="200",method="GET",path="/api/v1"'],
    [["b", 'say "hi"\\now', "a", "line\nbreak", "c", "ü ✓ 😀"], 'a="line\\nbreak",b="say \\"hi\\"\\\\now",c="ü ✓ 😀"'],
    [["k8s.pod", "p-1", "app", "web", "app_", "x"], 'app="web",app_="x","k8s.pod"="p-1"'],
    [["Z", "upper", "_", "under", "a1", "digit", "a", "plain"], 'Z="upper",_="under",a="plain",a1="digit"'],
    [["\uffff", "bmp-last", "😀", "astral"], '"😀"="astral","\uffff"="bmp-last"'],
  ];

  it("gives every order and spelling of a label set its canonical key", () => {
    const spellings: Spelling[] = [
      { quoteName: false, blanks: false },
      { quoteName: true, blanks: false },
      { quoteName: false, blanks: true },
    ];
    for (const [pairs, expected] of sets) {
      const labels: [string, string][] = [];
      for (let i = 0; i < pairs.length; i += 2) labels.push([pairs[i] ?? "", pairs[i + 1] ?? ""]);
      for (const order of permutations(labels)) {
        for (const spelling of spellings) {
          const inner = order.map(([n, v]) => writePair(n, v, spelling));
          const variants = [
            inner.join(","),
            // An empty value is no label, wherever it is written.
            ["zz_empty=\"\"", ...inner].join(","),
            [...inner, "\"zz.empty\"=\"\""].join(","),
          ];
          for (const labelText of variants) {
            const bodies = [`m{${labelText}} 1\n`, `m { ${labelText} } 1\n`, `{"m",${labelText}} 1\n`];
            if (labelText !== "") bodies.push(`m{${labelText},} 1\n`, `m{ ${labelText} , }\t1\n`);
            for (const body of bodies) expect(scalars(text(body)[0])[0]?.[0], body).toBe(expected);
            if (!spelling.blanks) expect(scalars(om(`m{${labelText}} 1\n# EOF\n`)[0])[0]?.[0], labelText).toBe(expected);
          }
        }
      }
    }
  });

  it("gives random label sets, orders and spellings the reference key", () => {
    const rand = prng(7);
    const pick = <T>(xs: readonly T[]): T => pickOne(rand, xs);
    const names = ["a", "b", "ab", "a_b", "B", "_x", "le", "quantile", "job", "instance", "z9", "k8s.ns", "ü", "a b", 'q"n'];
    const chars = ["x", "y", "0", " ", ",", "=", "{", "}", '"', "\\", "\n", "é", "😀", "\\n", "\\q"];
    for (let round = 0; round < 1500; round++) {
      const n = Math.floor(rand() * 5);
      const used = new Set<string>();
      const pairs: LabelPairs = [];
      while (pairs.length < 2 * n) {
        const name = pick(names);
        if (used.has(name)) continue;
        used.add(name);
        let value = "";
        const len = rand() < 0.15 ? 0 : Math.floor(rand() * 6) + 1;
        for (let i = 0; i < len; i++) value += pick(chars);
        pairs.push(name, value);
      }
      const written: string[] = [];
      for (let i = 0; i < pairs.length; i += 2) written.push(writePair(pairs[i] ?? "", pairs[i + 1] ?? "", { quoteName: rand() < 0.2, blanks: rand() < 0.2 }));
      const shuffled = written.map((w) => [rand(), w] as const).sort((x, y) => x[0] - y[0]).map(([, w]) => w);
      const body = `m{${shuffled.join(",")}} 1\n`;
      expect(scalars(text(body)[0])[0]?.[0], body).toBe(referenceKey(pairs));
    }
  });

  it("gives the reference key line after line, as label names change, repeat and move (cached names)", () => {
    const rand = prng(11);
    const pick = <T>(xs: readonly T[]): T => pickOne(rand, xs);
    // Few names, so that consecutive lines often share some of them at the same places.
    const names = ["a", "b", "c", "ab", "k8s.ns", "le"];
    for (let round = 0; round < 200; round++) {
      const lines: string[] = [];
      const keys: string[] = [];
      const seen = new Set<string>();
      const families = ["m", "n"];
      let family = 0;
      for (let line = 0; line < 40; line++) {
        // Now and then the next family: label names carry over from one to the next.
        if (rand() < 0.05 && family + 1 < families.length) family++;
        const n = Math.floor(rand() * 4);
        const pairs: LabelPairs = [];
        const used = new Set<string>();
        while (pairs.length < 2 * n) {
          const name = pick(names);
          if (used.has(name)) continue;
          used.add(name);
          pairs.push(name, rand() < 0.1 ? "" : pick(["1", "2", "x\\y", 'q"', "é"]));
        }
        const key = referenceKey(pairs);
        const written: string[] = [];
        for (let i = 0; i < pairs.length; i += 2) written.push(writePair(pairs[i] ?? "", pairs[i + 1] ?? "", { quoteName: rand() < 0.1, blanks: rand() < 0.1 }));
        if (rand() < 0.5) written.sort();
        else if (rand() < 0.5) written.reverse();
        const sample = `${families[family] ?? "m"}{${written.join(",")}} ${line}`;
        if (seen.has(`${family}\0${key}`)) {
          // The same series again, however written: a duplicate, reported on this line.
          const body = [...lines, sample].join("\n");
          expect(textError(body), body).toMatch(new RegExp(`^line ${lines.length + 1}, column 1: duplicate series`));
          continue;
        }
        seen.add(`${family}\0${key}`);
        lines.push(sample);
        keys.push(`${families[family] ?? "m"}\0${key}`);
      }
      const got = text(lines.join("\n")).flatMap((f) => f.keys.map((key) => `${f.name}\0${key}`));
      expect(got, lines.join("\n")).toEqual(keys);
    }
  });

  it("keys histogram and summary series without le and quantile, wherever those are", () => {
    const hist = (labels: string[]) => `# TYPE h histogram\nh_bucket{${labels.join(",")}} 1\nh_sum{b="2",a="1"} 2\nh_count{a="1",b="2"} 1\n`;
    for (const labels of permutations(['a="1"', 'b="2"', 'le="+Inf"'])) {
      const [f] = text(hist(labels));
      expect(f?.keys, labels.join(",")).toEqual(['a="1",b="2"']);
      expect(histogram(f)).toEqual({ bounds: [Infinity], counts: [1], sum: 2, count: 1 });
    }
    expect(text(hist(['"le"="+Inf"', 'b = "2"', "a=\"1\"", 'c=""']))[0]?.keys).toEqual(['a="1",b="2"']);
    for (const labels of permutations(['quantile="0.5"', 'x="1"', 'y="2"'])) {
      const [f] = text(`# TYPE s summary\ns{${labels.join(",")}} 3\ns_sum{y="2",x="1"} 4\ns_count{x="1",y="2"} 5\n`);
      expect(f?.keys, labels.join(",")).toEqual(['x="1",y="2"']);
      expect(summary(f)).toEqual({ quantiles: [0.5], values: [3], sum: 4, count: 5 });
    }
  });

  it("finds a series again however its labels are written", () => {
    expect(textError('a{x="1",y="2"} 1\na{ y = "2" , x="1" , } 2\n')).toMatch(/^line 2, column 1: duplicate series a\{x="1",y="2"\}/);
    expect(textError('a{"x"="1"} 1\na{x="1",z=""} 2\n')).toMatch(/^line 2, column 1: duplicate series a\{x="1"\} \(a label with an empty value/);
    expect(textError('a{v="a\\\\qb"} 1\na{v="a\\\\qb"} 2\n')).toMatch(/^line 2, column 1: duplicate series a\{v="a\\\\qb"\}/);
    expect(omError('a{v="a\\qb"} 1\na{v="a\\qb"} 2\n# EOF\n')).toMatch(/^line 2, column 1: duplicate series a\{v="a\\\\qb"\}/);
    expect(textError('# TYPE h histogram\nh_bucket{a="1",le="1"} 1\nh_bucket{a="2",le="+Inf"} 1\nh_bucket{le="+Inf", a = "1"} 1\nh_sum{a="1"} 1\nh_sum{"a"="1"} 1\n')).toMatch(
      /^line 6, column 1: duplicate _sum for series \{a="1"\}/,
    );
    // Values that differ only in escapes are different series.
    expect(scalars(text('a{v="x\\ny"} 1\na{v="x\\\\ny"} 2\n')[0]).map(([key]) => key)).toEqual(['v="x\\ny"', 'v="x\\\\ny"']);
  });
});

describe("grouping labels (ParseOptions.group)", () => {
  const bodies = [
    'a{code="200",method="GET"} 1\na{code="500",method="GET"} 2\n',
    'a{method="GET",code="200"} 1\na{zone="eu",code="500"} 2\n',
    'a{instance="from-body",x="1"} 1\na{x="2"} 2\na{job="",x="3"} 3\n',
    'a{"k8s.ns"="n",v="q\\"\\n\\\\"} 1\na{ v = "w" } 2\na 3\n',
    '# TYPE h histogram\nh_bucket{method="GET",le="1"} 1\nh_bucket{method="GET",le="+Inf"} 2\nh_sum{method="GET"} 3\nh_count{method="GET"} 2\nh_bucket{le="+Inf",instance="i",a="1"} 1\nh_sum{a="1",instance="i"} 1\n',
    '# TYPE s summary\ns{quantile="0.5",job="j"} 1\ns_sum{job="j"} 2\ns_count{job="j"} 3\n',
  ];
  const groups: LabelPairs[] = [
    ["job", "batch"],
    ["job", "batch", "instance", "host-1"],
    ["job", "batch", "instance", ""],
    ["job", 'q"uote\\d', "a", "first", "zz", "last", "k8s.ns", "ns"],
  ];

  // The keys of each body's series with each grouping: the grouping labels are added and replace
  // same-named labels of the body; an empty value (instance="") removes the label; keys are sorted.
  const J = 'job="q\\"uote\\\\d"';
  const expected: readonly (readonly (readonly string[])[])[] = [
    [
      ['code="200",job="batch",method="GET"', 'code="500",job="batch",method="GET"'],
      ['code="200",instance="host-1",job="batch",method="GET"', 'code="500",instance="host-1",job="batch",method="GET"'],
      ['code="200",job="batch",method="GET"', 'code="500",job="batch",method="GET"'],
      [`a="first",code="200",${J},"k8s.ns"="ns",method="GET",zz="last"`, `a="first",code="500",${J},"k8s.ns"="ns",method="GET",zz="last"`],
    ],
    [
      ['code="200",job="batch",method="GET"', 'code="500",job="batch",zone="eu"'],
      ['code="200",instance="host-1",job="batch",method="GET"', 'code="500",instance="host-1",job="batch",zone="eu"'],
      ['code="200",job="batch",method="GET"', 'code="500",job="batch",zone="eu"'],
      [`a="first",code="200",${J},"k8s.ns"="ns",method="GET",zz="last"`, `a="first",code="500",${J},"k8s.ns"="ns",zone="eu",zz="last"`],
    ],
    [
      ['instance="from-body",job="batch",x="1"', 'job="batch",x="2"', 'job="batch",x="3"'],
      ['instance="host-1",job="batch",x="1"', 'instance="host-1",job="batch",x="2"', 'instance="host-1",job="batch",x="3"'],
      ['job="batch",x="1"', 'job="batch",x="2"', 'job="batch",x="3"'],
      [`a="first",instance="from-body",${J},"k8s.ns"="ns",x="1",zz="last"`, `a="first",${J},"k8s.ns"="ns",x="2",zz="last"`, `a="first",${J},"k8s.ns"="ns",x="3",zz="last"`],
    ],
    [
      ['job="batch","k8s.ns"="n",v="q\\"\\n\\\\"', 'job="batch",v="w"', 'job="batch"'],
      ['instance="host-1",job="batch","k8s.ns"="n",v="q\\"\\n\\\\"', 'instance="host-1",job="batch",v="w"', 'instance="host-1",job="batch"'],
      ['job="batch","k8s.ns"="n",v="q\\"\\n\\\\"', 'job="batch",v="w"', 'job="batch"'],
      [`a="first",${J},"k8s.ns"="ns",v="q\\"\\n\\\\",zz="last"`, `a="first",${J},"k8s.ns"="ns",v="w",zz="last"`, `a="first",${J},"k8s.ns"="ns",zz="last"`],
    ],
    [
      ['job="batch",method="GET"', 'a="1",instance="i",job="batch"'],
      ['instance="host-1",job="batch",method="GET"', 'a="1",instance="host-1",job="batch"'],
      ['job="batch",method="GET"', 'a="1",job="batch"'],
      [`a="first",${J},"k8s.ns"="ns",method="GET",zz="last"`, `a="first",instance="i",${J},"k8s.ns"="ns",zz="last"`],
    ],
    [['job="batch"'], ['instance="host-1",job="batch"'], ['job="batch"'], [`a="first",${J},"k8s.ns"="ns",zz="last"`]],
  ];

  it("adds the grouping labels to every key, replacing the body's labels of the same names", () => {
    bodies.forEach((body, b) => {
      const plain = text(body);
      groups.forEach((group, g) => {
        const grouped = text(body, { group });
        expect(grouped.map((f) => f.keys), `${JSON.stringify(group)} ${body}`).toEqual([expected[b]?.[g]]);
        // Only the keys change.
        expect(grouped.map((f) => f.values)).toEqual(plain.map((f) => f.values));
      });
    });
  });

  it("leaves series that only the grouping makes equal for prepare to reject", () => {
    const group = ["job", "batch"];
    const families = text('a{job="x"} 1\na{job="y"} 2\na 3\n', { group });
    expect(families[0]?.keys).toEqual(['job="batch"', 'job="batch"', 'job="batch"']);
    // The parser vouches for distinct keys only where no grouping label replaced one of the body's.
    expect(families[0]?.unique).toBe(false);
    expect(text('a{x="1"} 1\na{x="2"} 2\n', { group })[0]?.unique).toBe(true);
    const histograms = text('# TYPE h histogram\nh_bucket{job="x",le="+Inf"} 1\nh_sum{job="x"} 1\nh_count{job="x"} 1\nh_bucket{job="y",le="+Inf"} 1\nh_sum{job="y"} 1\nh_count{job="y"} 1\n', { group });
    expect(histograms[0]?.unique).toBe(false);
    expect(errorOf(() => prepare(histograms)).message).toBe('metric "h{job="batch"}": the same series appears twice in one push; send each label set once');
    for (const pushed of [families, withGroupingLabels(text('a{job="x"} 1\na{job="y"} 2\n'), group)]) {
      const e = errorOf(() => prepare(pushed));
      expect(e.name).toBe("InvalidValue");
      expect(e.message).toBe('metric "a{job="batch"}": the same series appears twice in one push; send each label set once');
    }
    // The body's own duplicates are still a parse error, with or without the grouping.
    expect(errorOf(() => text('a{job="x"} 1\na{job="x"} 2\n', { group })).message).toMatch(/^line 2, column 1: duplicate series a\{job="x"\}/);
    expect(errorOf(() => text('a{x="1"} 1\na{x="1"} 2\n', { group })).message).toMatch(/^line 2, column 1: duplicate series a\{x="1"\}/);
    expect(errorOf(() => text('a{x="1",job="j"} 1\na{job="j",x="1"} 2\n', { group })).name).toBe("ParseError");
  });

  it("gives keys that withGroupingLabels leaves as they are", () => {
    const group = ["job", "batch", "instance", "host-1"];
    const again = withGroupingLabels(text(bodies[2] ?? "", { group }), group);
    expect(again[0]?.keys).toEqual(['instance="host-1",job="batch",x="1"', 'instance="host-1",job="batch",x="2"', 'instance="host-1",job="batch",x="3"']);
  });
});

describe("prepare on parsed families", () => {
  it("takes a scalar family's columns as they are, and packs histograms and summaries", () => {
    const families = text('# TYPE g gauge\ng{b="2",a="1"} 2\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\n# TYPE s summary\ns{quantile="0.5"} 4\ns_sum 5\ns_count 6\n');
    const [g, h, s] = prepare(families);
    expect(g?.keys).toBe(families[0]?.keys);
    expect(g?.values).toBe(families[0]?.values);
    expect(g?.keys).toEqual(['a="1",b="2"']);
    // [sum, count, ...bounds, ...counts]; a histogram without _count counts its +Inf bucket.
    expect(h?.values).toEqual([Float64Array.from([3, 2, 1, Infinity, 1, 2])]);
    expect(s?.values).toEqual([Float64Array.from([5, 6, 0.5, 4])]);
  });

  it("still rejects what it rejected: negative counters, histograms without _sum, summaries without _count", () => {
    expect(errorOf(() => prepare(text("# TYPE c counter\nc{x=\"1\"} -1\n"))).message).toBe('metric "c{x="1"}": counter value -1 is not a finite number >= 0; counters only go up (use a gauge for values that go down)');
    expect(errorOf(() => prepare(text('# TYPE h histogram\nh_bucket{le="+Inf"} 1\n'))).message).toMatch(/^metric "h\{\}": histogram has no _sum sample/);
    expect(errorOf(() => prepare(text('# TYPE s summary\ns_sum{a="1"} 1\n'))).message).toMatch(/^metric "s\{a="1"\}": summary needs both _sum and _count/);
  });
});

describe("metadata and family rules", () => {
  it("rejects unknown, repeated or late metadata", () => {
    expect(textError("# TYPE a gauge\n# TYPE b meh\n")).toMatch(/^line 2, column 10: unknown metric type "meh"; use counter, gauge, histogram, summary or untyped/);
    expect(textError("# TYPE a unknown\n")).toMatch(/^line 1, column 10: unknown metric type "unknown" \(the text format calls it "untyped"\)/);
    expect(textError("# TYPE a Counter\n")).toMatch(/^line 1, column 10: unknown metric type "Counter"/);
    expect(textError("# TYPE a gaugehistogram\n")).toMatch(/^line 1, column 10: unknown metric type "gaugehistogram" \(the gateway does not store gauge histograms: push it as a histogram or as gauges\)/);
    expect(omError("# TYPE a\n# EOF\n")).toMatch(/^line 1, column 9: expected a space and the metric type after the metric name "a"/);
    expect(textError("# TYPE a gauge extra\n")).toMatch(/^line 1, column 16: unexpected text after the metric type/);
    expect(textError("# TYPE a gauge\n# TYPE a counter\n")).toMatch(/^line 2, column 8: second TYPE line for "a"/);
    expect(textError("# HELP a x\n# HELP a y\n")).toMatch(/^line 2, column 8: second HELP line for "a"/);
    expect(textError("a 1\n# TYPE a gauge\n")).toMatch(/^line 2, column 8: # TYPE for "a" comes after its samples; put the TYPE line before the family's first sample/);
    expect(textError("a 1\nb 1\n# TYPE a gauge\n")).toMatch(/^line 3, column 8: # TYPE for "a" comes after its samples/);
    expect(textError("a 1\n# HELP a one\nb 1\n# HELP a two\n")).toMatch(/^line 4, column 8: second HELP line for "a"/);
    expect(omError("a 1\n# HELP a late\n# EOF\n")).toMatch(/^line 2, column 8: # HELP for "a" comes after its samples; put HELP, TYPE and UNIT lines before the family's first sample/);
  });

  it("takes a text family's HELP after its samples, or after other families (only TYPE must come first)", () => {
    expect(text("# TYPE a gauge\na 1\n# HELP a late\n")).toEqual([{ name: "a", type: "gauge", help: "late", unit: "", keys: [""], values: [1], unique: true }]);
    expect(text("a 1\nb 2\n# HELP a later\n").map((f) => [f.name, f.help])).toEqual([
      ["a", "later"],
      ["b", ""],
    ]);
    // A family announced by HELP may get its TYPE later, before its samples.
    expect(text("# HELP a x\nb 1\n# TYPE a counter\na 2\n").map((f) => [f.name, f.type, f.help, f.values])).toEqual([
      ["a", "counter", "x", [2]],
      ["b", "untyped", "", [1]],
    ]);
  });

  it("merges a text family's lines wherever they are in the body (as the Pushgateway does), still finding every duplicate", () => {
    expect(text('a 1\nb 1\na{x="2"} 2\nb{y="3"} 3\n')).toEqual([
      { name: "a", type: "untyped", help: "", unit: "", keys: ["", 'x="2"'], values: [1, 2], unique: true },
      { name: "b", type: "untyped", help: "", unit: "", keys: ["", 'y="3"'], values: [1, 3], unique: true },
    ]);
    expect(textError('a{x="1"} 1\nb 1\na{x="2"} 2\nb 2\n')).toMatch(/^line 4, column 1: duplicate series b\{\}/);
    expect(textError('a{x="1",y="2"} 1\nb 1\na{y="2", x="1"} 2\n')).toMatch(/^line 3, column 1: duplicate series a\{x="1",y="2"\}/);
    // Histograms and summaries: a series' samples join it wherever they are.
    const [h, s] = text('# TYPE h histogram\n# TYPE s summary\nh_bucket{a="1",le="+Inf"} 2\ns{quantile="0.5"} 1\nh_sum{a="1"} 3\ns_count 4\nh_count{a="1"} 2\ns_sum 5\n');
    expect(h?.keys).toEqual(['a="1"']);
    expect(histogram(h)).toEqual({ bounds: [Infinity], counts: [2], sum: 3, count: 2 });
    expect(summary(s)).toEqual({ quantiles: [0.5], values: [1], sum: 5, count: 4 });
    expect(textError('# TYPE h histogram\nh_sum 1\nx 1\nh_sum 2\n')).toMatch(/^line 4, column 1: duplicate _sum for series \{\}/);
    // With grouping labels, a series whose own labels were replaced is found by its own labels.
    expect(errorOf(() => text('a{job="x"} 1\nb 1\na{job="x"} 2\n', { group: ["job", "g"] })).message).toMatch(/^line 3, column 1: duplicate series a\{job="x"\}/);
    expect(text('a{job="x"} 1\nb 1\na{job="y"} 2\na 3\n', { group: ["job", "g"] })[0]?.keys).toEqual(['job="g"', 'job="g"', 'job="g"']);
  });

  it("stays linear when a body switches families on every line", () => {
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(`a{i="${i}"} ${i}`, `b{i="${i}"} ${i}`);
    const started = Date.now();
    const [a, b] = text(lines.join("\n"));
    expect(a?.keys).toHaveLength(20_000);
    expect(b?.keys[19_999]).toBe('i="19999"');
    // Quadratic work (each switch re-indexing a family) would take minutes here.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(textError(`${lines.join("\n")}\na{i="7"} 1\n`)).toMatch(/^line 40001, column 1: duplicate series a\{i="7"\}/);
  });

  it("requires each OpenMetrics family to be contiguous", () => {
    expect(omError("a 1\nb 1\na{x=\"2\"} 2\n# EOF\n")).toMatch(/^line 3, column 1: metric "a" already appeared at line 1; keep a family's metadata and samples together/);
    expect(omError("# TYPE a gauge\nb 1\n# HELP a late\n# EOF\n")).toMatch(/^line 3, column 8: metric "a" already appeared at line 1/);
  });

  it("rejects duplicate series in any label order", () => {
    expect(textError('a{x="1",y="2"} 1\na{x="1",y="3"} 1\na{y="2",x="1"} 2\n')).toMatch(/^line 3, column 1: duplicate series a\{x="1",y="2"\}: it already has a sample in this body; send each series once/);
    expect(textError("a 1\na 2\n")).toMatch(/^line 2, column 1: duplicate series a\{\}/);
    expect(textError('a{x=""} 1\na 2\n')).toMatch(/^line 2, column 1: duplicate series a\{x=""\} \(a label with an empty value is the same as no label\)/);
  });

  it("tells series apart even when their hashes collide", () => {
    // Many series with similar labels: any hash collision must still compare the labels.
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(`c{a="${i % 100}",b="${Math.floor(i / 100)}"} ${i}`);
    expect(scalars(text(lines.join("\n"))[0])).toHaveLength(20_000);
  });
});

describe("OpenMetrics", () => {
  it("names a counter family after its _total samples and drops _created", () => {
    const families = om('# TYPE jobs counter\n# HELP jobs Jobs done.\n# UNIT jobs \njobs_total{q="a"} 3\njobs_created{q="a"} 1700000000.5\njobs_created{q="b"} 1700000000\njobs_total{q="b"} 4\n# EOF\n');
    expect(families).toEqual([
      {
        name: "jobs_total",
        type: "counter",
        help: "Jobs done.",
        unit: "",
        keys: ['q="a"', 'q="b"'],
        values: [3, 4],
        unique: true,
      },
    ]);
  });

  it("validates and drops exemplars", () => {
    const families = om('# TYPE a counter\na_total 1 # {trace_id="abc"} 0.5 1700000000.1\n# TYPE h histogram\nh_bucket{le="+Inf"} 2 # {trace_id="x"} 3\nh_sum 1\nh_count 2\n# EOF\n');
    expect(scalars(families[0])).toEqual([["", 1]]);
    expect(families[1]?.keys).toEqual([""]);
    expect(histogram(families[1])).toEqual({ bounds: [Infinity], counts: [2], sum: 1, count: 2 });
    expect(omError('# TYPE g gauge\ng 1 # {a="b"} 1\n# EOF\n')).toMatch(/^line 2, column 5: exemplars are only allowed on counter "_total" and histogram "_bucket" samples/);
    expect(omError(`# TYPE a counter\na_total 1 # {a="${"x".repeat(128)}"} 1\n# EOF\n`)).toMatch(/^line 2, column 13: exemplar labels are 129 characters long/);
  });

  it("maps unknown to untyped, info to a gauge <name>_info, stateset to a gauge", () => {
    const families = om('# TYPE u unknown\nu 1\n# TYPE build info\nbuild_info{version="1.2"} 1\n# TYPE state stateset\nstate{state="up"} 1\nstate{state="down"} 0\n# EOF\n');
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ["u", "untyped"],
      ["build_info", "gauge"],
      ["state", "gauge"],
    ]);
    expect(scalars(families[2])).toEqual([
      ['state="up"', 1],
      ['state="down"', 0],
    ]);
    expect(omError("# TYPE build info\nbuild_info 2\n# EOF\n")).toMatch(/^line 2, column 12: info value must be 1, got 2/);
    expect(omError('# TYPE s stateset\ns{x="1"} 1\n# EOF\n')).toMatch(/^line 2, column 1: stateset sample "s" needs a label "s" naming its state/);
  });

  it("keeps UNIT, which must suffix the name", () => {
    expect(om("# TYPE t_seconds gauge\n# UNIT t_seconds seconds\nt_seconds 1\n# EOF\n")[0]?.unit).toBe("seconds");
    expect(omError("# UNIT t seconds\n# EOF\n")).toMatch(/^line 1, column 10: unit "seconds" must be the suffix of the metric name/);
  });

  it("parses a gaugehistogram as a histogram, and rejects it only with rejectUnsupported", () => {
    const body = '# TYPE q gaugehistogram\nq_bucket{le="1"} 2\nq_bucket{le="+Inf"} 3\nq_gsum 4\nq_gcount 3\n# EOF\n';
    expect(om(body)).toEqual([
      { name: "q", type: "histogram", help: "", unit: "", keys: [""], values: [{ bounds: [1, Infinity], counts: [2, 3], sum: 4, count: 3 }], unique: true },
    ]);
    const e = errorOf(() => om(body, { rejectUnsupported: true }));
    expect(e.name).toBe("InvalidValue");
    expect(e.message).toMatch(/^line 1: gaugehistogram "q" is not supported/);
    // Validation comes first: an invalid body is a ParseError even with the flag.
    expect(errorOf(() => om('# TYPE q gaugehistogram\nq_bucket{le="1"} 2\n# EOF\n', { rejectUnsupported: true })).name).toBe("ParseError");
    expect(om("a 1\n# EOF\n", { rejectUnsupported: true })).toHaveLength(1);
  });

  it("enforces the OpenMetrics line rules", () => {
    expect(omError("a 1\n")).toMatch(/^line 2, column 1: missing "# EOF"/);
    expect(omError("a 1")).toMatch(/^line 1, column 4: missing "# EOF"/);
    expect(omError("")).toMatch(/^line 1, column 1: missing "# EOF"/);
    expect(omError("a 1\n# EOF\nb 2\n")).toMatch(/^line 3, column 1: text after "# EOF"/);
    expect(omError("a 1\n# EOF\n\n")).toMatch(/^line 3, column 1: text after "# EOF"/);
    expect(omError("a 1\n\n# EOF\n")).toMatch(/^line 2, column 1: blank line: OpenMetrics does not allow empty lines/);
    expect(omError("# a comment\n# EOF\n")).toMatch(/^line 1, column 3: unknown line "# a"/);
    expect(omError("a  1\n# EOF\n")).toMatch(/^line 1, column 3: expected the sample value, found a second space/);
    expect(omError("a 1 \n# EOF\n")).toMatch(/^line 1, column 5: expected the sample timestamp after the space/);
    expect(omError("a\t1\n# EOF\n")).toMatch(/^line 1, column 2: found a tab in metric name/);
    expect(omError('a{x="1",} 1\n# EOF\n')).toMatch(/^line 1, column 9: expected a label name, found "\}" \(OpenMetrics allows no empty or trailing commas\)/);
    expect(omError("# TYPE a untyped\n# EOF\n")).toMatch(/^line 1, column 10: unknown metric type "untyped" \(OpenMetrics calls it "unknown"\)/);
    expect(omError("a 1\n# EOF \n")).toMatch(/^line 2, column 6: "# EOF" must be alone on its line/);
    expect(omError("#HELP a x\n# EOF\n")).toMatch(/^line 1, column 2: expected a space after "#"/);
    expect(omError("# HELP a\n# EOF\n")).toMatch(/^line 1, column 9: expected a space and the help text after the metric name "a"/);
    expect(om("# EOF")).toEqual([]);
  });

  it("checks OpenMetrics metadata", () => {
    expect(omError("# UNIT a_s s\n# UNIT a_s s\n# EOF\n")).toMatch(/^line 2, column 8: second UNIT line for "a_s"/);
    expect(omError("# TYPE x_u info\n# UNIT x_u u\n# EOF\n")).toMatch(/^line 2, column 12: info "x_u" cannot have a unit/);
    expect(omError("# UNIT x_u u\n# TYPE x_u stateset\n# EOF\n")).toMatch(/^line 2, column 12: stateset "x_u" cannot have a unit/);
    expect(omError("# TYPE a_created gauge\n# TYPE a counter\n# EOF\n")).toMatch(/^line 2, column 8: counter "a" has samples named "a_created", which clashes with the family "a_created" at line 1/);
    expect(omError('# TYPE a counter\na_created 1 # {x="y"} 1\n# EOF\n')).toMatch(/^line 2, column 13: exemplars are only allowed on counter "_total" and histogram "_bucket" samples/);
  });

  it("checks OpenMetrics value rules for counters, histograms and summaries", () => {
    expect(omError("# TYPE c counter\nc_total -1\n# EOF\n")).toMatch(/^line 2, column 9: counter value -1 is negative/);
    expect(omError("# TYPE c counter\nc 1\n# EOF\n")).toMatch(/^line 2, column 1: sample "c" does not fit the counter "c", whose samples are named "c_total", "c_created"/);
    expect(omError('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\n# EOF\n')).toMatch(/^line 2, column 1: histogram "h" series \{\} has _sum without _count/);
    expect(omError('# TYPE h histogram\nh_bucket{le="+INF"} 1\n# EOF\n')).toMatch(/^line 2, column 14: le="\+INF" must be written le="\+Inf" in OpenMetrics/);
    expect(omError('# TYPE s summary\ns{quantile="0.5"} -1\n# EOF\n')).toMatch(/^line 2, column 19: quantile value -1 is negative/);
  });

  it("requires a series' samples to be adjacent", () => {
    expect(omError('# TYPE h histogram\nh_bucket{a="1",le="+Inf"} 1\nh_bucket{a="2",le="+Inf"} 1\nh_sum{a="1"} 1\n# EOF\n')).toMatch(/^line 4, column 1: the samples of series \{a="1"\} in "h" are not together/);
  });
});

describe("names.ts", () => {
  it("recognises the legacy charsets", () => {
    expect(isLegacyMetricName("http_requests_total")).toBe(true);
    expect(isLegacyMetricName("ns:rule:rate5m")).toBe(true);
    expect(isLegacyMetricName("_x9")).toBe(true);
    expect(isLegacyMetricName("9x")).toBe(false);
    expect(isLegacyMetricName("my.metric")).toBe(false);
    expect(isLegacyMetricName("")).toBe(false);
    expect(isLegacyLabelName("code")).toBe(true);
    expect(isLegacyLabelName("a:b")).toBe(false);
    expect(isLegacyLabelName("0")).toBe(false);
    expect(isLegacyLabelName("")).toBe(false);
  });

  it("accepts UTF-8 names and rejects empty, malformed and reserved ones with InvalidName", () => {
    expect(() => checkMetricName("orders_total", "inc()")).not.toThrow();
    expect(() => checkMetricName("my.metric ✓", "inc()")).not.toThrow();
    expect(() => checkLabelName("k8s.pod", "inc() labels")).not.toThrow();

    const empty = errorOf(() => checkMetricName("", "inc()"));
    expect(empty.name).toBe("InvalidName");
    expect(empty.message).toBe('inc(): metric name is empty; give the metric a name such as "orders_total"');
    expect(errorOf(() => checkMetricName("bad\ud800", "inc()")).message).toMatch(/^inc\(\): metric name "bad\\ud800" is not valid UTF-8 \(lone surrogate at index 3\)/);
    expect(errorOf(() => checkLabelName("__plan", "inc() labels")).message).toMatch(/^inc\(\) labels: label name "__plan" starts with "__", which Prometheus reserves/);
    expect(errorOf(() => checkLabelName("", "inc() labels")).name).toBe("InvalidName");
    expect(errorOf(() => checkLabelName("\udc00x", "inc() labels")).message).toMatch(/lone surrogate at index 0/);
    expect(metricNameProblem("ok\ud83d\ude00")).toBeUndefined();
    expect(labelNameProblem("_single")).toBeUndefined();
    expect(metricNameProblem(42)).toBe("metric name must be a string, got number");
  });
});
