// The exposition renderer (format.ts): the boolean API as it always was, and the options API that
// escapes names and leaves out what OpenMetrics cannot carry. Pure calls, literal outputs.
import { describe, expect, it } from "vitest";
import type { MetricType } from "../src/common/model";
import type { EscapingScheme } from "../src/wire/exposition/escaping";
import { formatOpenMetricsFloat as canonical, formatSampleValue } from "../src/wire/exposition/float";
import {
  type FamilyView,
  type Omitted,
  type RenderOptions,
  type SeriesValue,
  OPENMETRICS_CONTENT_TYPE,
  TEXT_CONTENT_TYPE,
  claimFamilyNames,
  clashingFamilies,
  formatFloat,
  renderFamily,
  renderHeader,
  renderSeries,
  renderSeriesParts,
} from "../src/wire/exposition/format";
import { formatOpenMetricsFloat } from "../src/wire/remote-write/write-request";

function family(name: string, type: MetricType, series: [string, SeriesValue][], help = "", unit = ""): FamilyView {
  return { name, type, help, unit, series };
}

const h = (...v: number[]): Float64Array => new Float64Array(v);

const TEXT = (escaping: EscapingScheme): RenderOptions => ({ openmetrics: false, escaping });
const OM = (escaping: EscapingScheme): RenderOptions => ({ openmetrics: true, escaping });

/** Renders with options and returns the text and what was left out. */
function render(f: FamilyView, options: RenderOptions): { text: string; omitted: Omitted } {
  const omitted: Omitted = {};
  return { text: renderFamily(f, options, omitted), omitted };
}

/** Only the sample lines. */
function series(f: FamilyView, options: RenderOptions, omitted?: Omitted): string {
  return renderSeries(f, options, omitted);
}

describe("the boolean API (unchanged for its callers)", () => {
  it("renders counters, gauges and untyped, legacy and quoted names, in text and OpenMetrics", () => {
    const c = family("jobs_total", "counter", [["", 3], ['"k8s.pod"="p",queue="a"', 1.5]], "Jobs run.");
    expect(renderFamily(c, false)).toBe('# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total 3\njobs_total{"k8s.pod"="p",queue="a"} 1.5\n');
    expect(renderFamily(c, true)).toBe('# HELP jobs Jobs run.\n# TYPE jobs counter\njobs_total 3\njobs_total{"k8s.pod"="p",queue="a"} 1.5\n');
    const g = family("my.metric", "gauge", [["", 1], ['a="b"', 2]]);
    expect(renderFamily(g, false)).toBe('# HELP "my.metric" \n# TYPE "my.metric" gauge\n{"my.metric"} 1\n{"my.metric",a="b"} 2\n');
    const u = family("up", "untyped", [["", 1]]);
    expect(renderFamily(u, true)).toBe("# HELP up \n# TYPE up unknown\nup 1\n");
    expect(renderHeader(u, false)).toBe("# HELP up \n# TYPE up untyped\n");
    expect(renderSeries(u, false)).toBe("up 1\n");
  });

  it("renders histograms and summaries, le in text as written and in OpenMetrics in canonical form", () => {
    const hist = family("lat_seconds", "histogram", [['a="x"', h(1.5, 3, 0.1, 1, Infinity, 1, 2, 3)]]);
    expect(renderSeries(hist, false)).toBe(
      'lat_seconds_bucket{a="x",le="0.1"} 1\nlat_seconds_bucket{a="x",le="1"} 2\nlat_seconds_bucket{a="x",le="+Inf"} 3\nlat_seconds_sum{a="x"} 1.5\nlat_seconds_count{a="x"} 3\n',
    );
    expect(renderSeries(hist, true)).toBe(
      'lat_seconds_bucket{a="x",le="0.1"} 1\nlat_seconds_bucket{a="x",le="1.0"} 2\nlat_seconds_bucket{a="x",le="+Inf"} 3\nlat_seconds_sum{a="x"} 1.5\nlat_seconds_count{a="x"} 3\n',
    );
    const sum = family("rpc.seconds", "summary", [["", h(2, 4, 0.5, 1, 0.25, 0.75)]]);
    expect(renderSeries(sum, false)).toBe('{"rpc.seconds",quantile="0.5"} 0.25\n{"rpc.seconds",quantile="1"} 0.75\n{"rpc.seconds_sum"} 2\n{"rpc.seconds_count"} 4\n');
    expect(renderSeries(sum, true)).toBe('{"rpc.seconds",quantile="0.5"} 0.25\n{"rpc.seconds",quantile="1.0"} 0.75\n{"rpc.seconds_sum"} 2\n{"rpc.seconds_count"} 4\n');
  });

  it("keeps its constants and formatFloat", () => {
    expect(TEXT_CONTENT_TYPE).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(OPENMETRICS_CONTENT_TYPE).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8");
    expect([0.25, 1e21, -0, NaN, Infinity, -Infinity].map(formatFloat)).toEqual(["0.25", "1e+21", "0", "NaN", "+Inf", "-Inf"]);
  });

  it("means allow-utf-8: it leaves out what OpenMetrics cannot carry, and nothing in text", () => {
    const c = family("jobs_total", "counter", [['a="1"', -1], ['a="2"', 2]]);
    expect(renderSeries(c, true)).toBe('jobs_total{a="2"} 2\n');
    expect(renderSeries(c, false)).toBe('jobs_total{a="1"} -1\njobs_total{a="2"} 2\n');
    expect(renderFamily(c, true)).toBe(renderFamily(c, OM("allow-utf-8")));
  });
});

describe("names with each escaping scheme", () => {
  const counter = family("my.counter_total", "counter", [["", 1], ['"k8s.pod"="p",a="x"', 2]], "Help.");

  it("quotes UTF-8 names with allow-utf-8, as the renderer always did", () => {
    expect(render(counter, TEXT("allow-utf-8")).text).toBe(
      '# HELP "my.counter_total" Help.\n# TYPE "my.counter_total" counter\n{"my.counter_total"} 1\n{"my.counter_total","k8s.pod"="p",a="x"} 2\n',
    );
    expect(render(counter, OM("allow-utf-8")).text).toBe(
      '# HELP "my.counter" Help.\n# TYPE "my.counter" counter\n{"my.counter_total"} 1\n{"my.counter_total","k8s.pod"="p",a="x"} 2\n',
    );
  });

  it("escapes metric and label names with underscores, re-sorting the labels", () => {
    expect(render(counter, TEXT("underscores")).text).toBe(
      '# HELP my_counter_total Help.\n# TYPE my_counter_total counter\nmy_counter_total 1\nmy_counter_total{a="x",k8s_pod="p"} 2\n',
    );
    expect(render(counter, OM("underscores")).text).toBe('# HELP my_counter Help.\n# TYPE my_counter counter\nmy_counter_total 1\nmy_counter_total{a="x",k8s_pod="p"} 2\n');
  });

  it("escapes the whole stored name first, then adds OpenMetrics suffixes (as prometheus/common)", () => {
    expect(render(counter, TEXT("dots")).text).toBe(
      '# HELP my_dot_counter__total Help.\n# TYPE my_dot_counter__total counter\nmy_dot_counter__total 1\nmy_dot_counter__total{a="x",k8s_dot_pod="p"} 2\n',
    );
    expect(render(counter, OM("dots")).text).toBe(
      '# HELP my_dot_counter_ Help.\n# TYPE my_dot_counter_ counter\nmy_dot_counter__total 1\nmy_dot_counter__total{a="x",k8s_dot_pod="p"} 2\n',
    );
    expect(render(counter, TEXT("values")).text).toBe(
      '# HELP U__my_2e_counter__total Help.\n# TYPE U__my_2e_counter__total counter\nU__my_2e_counter__total 1\nU__my_2e_counter__total{U__k8s_2e_pod="p",a="x"} 2\n',
    );
    expect(render(counter, OM("values")).text).toBe(
      '# HELP U__my_2e_counter_ Help.\n# TYPE U__my_2e_counter_ counter\nU__my_2e_counter__total 1\nU__my_2e_counter__total{U__k8s_2e_pod="p",a="x"} 2\n',
    );
  });

  it("escapes histogram and summary names before their suffixes, and their labels", () => {
    const hist = family("lat.seconds", "histogram", [['"a.b"="1"', h(1.5, 3, 0.1, Infinity, 1, 3)]]);
    expect(series(hist, TEXT("underscores"))).toBe(
      'lat_seconds_bucket{a_b="1",le="0.1"} 1\nlat_seconds_bucket{a_b="1",le="+Inf"} 3\nlat_seconds_sum{a_b="1"} 1.5\nlat_seconds_count{a_b="1"} 3\n',
    );
    const sum = family("rpc-time", "summary", [["", h(2, 4, 0.5, 0.25)]]);
    expect(series(sum, OM("values"))).toBe('U__rpc_2d_time{quantile="0.5"} 0.25\nU__rpc_2d_time_sum 2\nU__rpc_2d_time_count 4\n');
  });

  it("leaves legacy names alone with every scheme (dots too), and escapes ':' in label names", () => {
    const f = family("a_b:c", "gauge", [['"x:y"="1",z_z="2"', 1]]);
    expect(series(f, TEXT("dots"))).toBe('a_b:c{x__y="1",z_z="2"} 1\n');
    expect(series(f, TEXT("underscores"))).toBe('a_b:c{x_y="1",z_z="2"} 1\n');
    expect(series(f, TEXT("values"))).toBe('a_b:c{U__x_3a_y="1",z_z="2"} 1\n');
  });

  it("keeps label values and HELP escaped as each format requires", () => {
    const f = family("g", "gauge", [['"my.label"="q\\"uote\\\\back\\nnew ü😱"', 1]], 'a\\b\nc "q"');
    expect(render(f, TEXT("underscores")).text).toBe('# HELP g a\\\\b\\nc "q"\n# TYPE g gauge\ng{my_label="q\\"uote\\\\back\\nnew ü😱"} 1\n');
    expect(render(f, OM("underscores")).text).toBe('# HELP g a\\\\b\\nc \\"q\\"\n# TYPE g gauge\ng{my_label="q\\"uote\\\\back\\nnew ü😱"} 1\n');
  });

  it("writes an empty HELP with its space (OpenMetrics requires it)", () => {
    expect(renderHeader(family("g", "gauge", []), OM("underscores"))).toBe("# HELP g \n# TYPE g gauge\n");
  });
});

describe("values", () => {
  const edge = [NaN, Infinity, -Infinity, -0, 0, 5e-324, 2.2250738585072014e-308, 1e308, -1e308, 1.7976931348623157e308, 0.1, 123456789012345680000, 1e21, 1e-7];

  it("renders every edge value as Go float syntax that reads back to the same float", () => {
    const g = family("g", "gauge", edge.map((v, i) => [`i="${i}"`, v]));
    expect(series(g, TEXT("underscores"))).toBe(
      [
        'g{i="0"} NaN',
        'g{i="1"} +Inf',
        'g{i="2"} -Inf',
        'g{i="3"} -0',
        'g{i="4"} 0',
        'g{i="5"} 5e-324',
        'g{i="6"} 2.2250738585072014e-308',
        'g{i="7"} 1e+308',
        'g{i="8"} -1e+308',
        'g{i="9"} 1.7976931348623157e+308',
        'g{i="10"} 0.1',
        'g{i="11"} 123456789012345680000',
        'g{i="12"} 1e+21',
        'g{i="13"} 1e-7',
        "",
      ].join("\n"),
    );
    expect(series(g, OM("underscores"))).toContain('g{i="3"} -0.0\ng{i="4"} 0\n');
    for (const v of edge) {
      for (const om of [false, true]) expect(Object.is(Number(formatSampleValue(v, om).replace("Inf", "Infinity")), v)).toBe(true);
    }
  });

  it("writes le and quantile in OpenMetrics as Prometheus 3's canonical form (the remote-write export's)", () => {
    expect(canonical).toBe(formatOpenMetricsFloat);
    const hist = family("h", "histogram", [["", h(1, 3, 0.005, 1, 1e6, Infinity, 0, 1, 2, 3)]]);
    expect(series(hist, OM("underscores"))).toBe('h_bucket{le="0.005"} 0\nh_bucket{le="1.0"} 1\nh_bucket{le="1e+06"} 2\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 3\n');
    expect(series(hist, TEXT("underscores"))).toBe('h_bucket{le="0.005"} 0\nh_bucket{le="1"} 1\nh_bucket{le="1000000"} 2\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 3\n');
    const sum = family("s", "summary", [["", h(1, 3, 0, 0.5, 1, NaN, 1, 2)]]);
    expect(series(sum, OM("underscores"))).toBe('s{quantile="0.0"} NaN\ns{quantile="0.5"} 1\ns{quantile="1.0"} 2\ns_sum 1\ns_count 3\n');
  });
});

describe("series OpenMetrics cannot carry: left out of OpenMetrics, kept in text, counted", () => {
  function omits(f: FamilyView): { text: string; om: string; omitted: Omitted; textOmitted: Omitted } {
    const omitted: Omitted = {};
    const textOmitted: Omitted = {};
    return { om: series(f, OM("underscores"), omitted), omitted, text: series(f, TEXT("underscores"), textOmitted), textOmitted };
  }

  it("counters: NaN and negative values", () => {
    const r = omits(family("c_total", "counter", [['a="1"', NaN], ['a="2"', -1], ['a="3"', -Infinity], ['a="4"', Infinity], ['a="5"', -0], ['a="6"', 1]]));
    expect(r.om).toBe('c_total{a="4"} +Inf\nc_total{a="5"} -0.0\nc_total{a="6"} 1\n');
    expect(r.omitted).toEqual({ nan_counter_like: 1, negative_counter_like: 2 });
    expect(r.text.split("\n")).toHaveLength(7);
    expect(r.textOmitted).toEqual({});
  });

  it("histograms with an le label and summaries with a quantile label (stored before pushes refused them): left out of both formats", () => {
    const hist = family("hh", "histogram", [['job="a",le="5"', h(3, 2, Infinity, 2)], ['job="b"', h(3, 2, Infinity, 2)]]);
    const summ = family("ss", "summary", [['quantile="5"', h(1, 2, 0.5, 1)], ['x="quantile=\\"5"', h(1, 2, 0.5, 1)], ['y="a,quantile="', h(1, 2, 0.5, 1)]]);
    for (const f of [hist, summ]) {
      const r = omits(f);
      expect(r.omitted).toEqual({ bucket_label: 1 });
      expect(r.textOmitted).toEqual({ bucket_label: 1 });
    }
    expect(omits(hist).text).toBe('hh_bucket{job="b",le="+Inf"} 2\nhh_sum{job="b"} 3\nhh_count{job="b"} 2\n');
    expect(omits(summ).text).toBe(
      'ss{x="quantile=\\"5",quantile="0.5"} 1\nss_sum{x="quantile=\\"5"} 1\nss_count{x="quantile=\\"5"} 2\n' +
        'ss{y="a,quantile=",quantile="0.5"} 1\nss_sum{y="a,quantile="} 1\nss_count{y="a,quantile="} 2\n',
    );
  });

  it("gauges and untyped may be anything", () => {
    const r = omits(family("g", "untyped", [['a="1"', NaN], ['a="2"', -Infinity]]));
    expect(r.om).toBe('g{a="1"} NaN\ng{a="2"} -Inf\n');
    expect(r.omitted).toEqual({});
  });

  it("histograms: negative buckets (with the sum the gateway always holds), malformed buckets, bad counts and sums", () => {
    const r = omits(
      family("h", "histogram", [
        ['k="neg_bound"', h(1, 1, -1, Infinity, 0, 1)],
        ['k="neg_inf_bound"', h(1, 1, -Infinity, Infinity, 0, 1)],
        ['k="no_inf"', h(1, 1, 1, 2, 0, 1)],
        ['k="no_buckets"', h(1, 1)],
        ['k="unsorted"', h(1, 1, 2, 1, Infinity, 0, 0, 1)],
        ['k="nan_bound"', h(1, 1, NaN, Infinity, 0, 1)],
        ['k="decreasing"', h(1, 1, 1, Infinity, 2, 1)],
        ['k="count_mismatch"', h(1, 2, 1, Infinity, 0, 1)],
        ['k="nan_sum"', h(NaN, 1, 1, Infinity, 0, 1)],
        ['k="negative_sum"', h(-1, 1, 1, Infinity, 0, 1)],
        ['k="nan_count"', h(1, NaN, 1, Infinity, 0, 1)],
        ['k="fraction"', h(1, 1.5, 1, Infinity, 0.5, 1.5)],
        ['k="inf_count"', h(1, Infinity, 1, Infinity, 0, Infinity)],
        ['k="negative_bucket_count"', h(1, 1, 1, Infinity, -1, 1)],
        ['k="ok"', h(0.5, 1, 1, Infinity, 1, 1)],
        ['k="ok_inf_sum"', h(Infinity, 1, 1, Infinity, 1, 1)],
      ]),
    );
    expect(r.om).toBe('h_bucket{k="ok",le="1.0"} 1\nh_bucket{k="ok",le="+Inf"} 1\nh_sum{k="ok"} 0.5\nh_count{k="ok"} 1\nh_bucket{k="ok_inf_sum",le="1.0"} 1\nh_bucket{k="ok_inf_sum",le="+Inf"} 1\nh_sum{k="ok_inf_sum"} +Inf\nh_count{k="ok_inf_sum"} 1\n');
    expect(r.omitted).toEqual({ negative_bucket_with_sum: 2, malformed_buckets: 6, nan_counter_like: 2, negative_counter_like: 2, non_integer_count: 2 });
    expect(r.textOmitted).toEqual({});
    expect(r.text).toContain('h_bucket{k="neg_bound",le="-1"} 0\n');
    expect(r.text).toContain('h_sum{k="no_buckets"} 1\nh_count{k="no_buckets"} 1\n');
  });

  it("summaries: quantiles outside [0, 1], negative quantile values, bad sums and counts", () => {
    const r = omits(
      family("s", "summary", [
        ['k="q_neg"', h(1, 1, -0.5, 1)],
        ['k="q_big"', h(1, 1, 1.5, 1)],
        ['k="q_nan"', h(1, 1, NaN, 1)],
        ['k="neg_value"', h(1, 1, 0.5, -1)],
        ['k="neg_sum"', h(-1, 1, 0.5, 1)],
        ['k="nan_sum"', h(NaN, 1, 0.5, 1)],
        ['k="neg_count"', h(1, -1, 0.5, 1)],
        ['k="fraction"', h(1, 0.5, 0.5, 1)],
        ['k="ok"', h(1, 1, 0.5, NaN)],
        ['k="no_quantiles"', h(1, 1)],
      ]),
    );
    expect(r.om).toBe('s{k="ok",quantile="0.5"} NaN\ns_sum{k="ok"} 1\ns_count{k="ok"} 1\ns_sum{k="no_quantiles"} 1\ns_count{k="no_quantiles"} 1\n');
    expect(r.omitted).toEqual({ quantile_out_of_range: 3, negative_quantile_value: 1, negative_counter_like: 2, nan_counter_like: 1, non_integer_count: 1 });
    expect(r.textOmitted).toEqual({});
    expect(r.text).toContain('s{k="q_neg",quantile="-0.5"} 1\n');
  });

  it("malformed values are left out of every format", () => {
    for (const options of [TEXT("allow-utf-8"), OM("underscores")]) {
      const omitted: Omitted = {};
      expect(series(family("h", "histogram", [["", 1], ['a="1"', h(1)], ['a="2"', h(1, 1, 1)]]), options, omitted)).toBe("");
      expect(series(family("g", "gauge", [["", h(1, 2)]]), options, omitted)).toBe("");
      expect(omitted).toEqual({ malformed_value: 4 });
    }
  });

  it("adds to the counts already there, and works without an omitted object", () => {
    const omitted: Omitted = { nan_counter_like: 2 };
    series(family("c", "counter", [["", NaN]]), OM("underscores"), omitted);
    expect(omitted).toEqual({ nan_counter_like: 3 });
    expect(series(family("c", "counter", [["", NaN]]), OM("underscores"))).toBe("");
  });
});

describe("escaping clashes inside a family (every format with an escaping scheme)", () => {
  it("finds a clash between series hundreds apart when the lines come in parts of 256 series", () => {
    // Sorted keys: `"a.b"` (0x22) first, 300 `A` keys, then `a_b` (0x61): 301 series apart.
    const f = family("g", "gauge", [['"a.b"="1"', 1], ...Array.from({ length: 300 }, (_, i): [string, number] => [`A="${String(i).padStart(3, "0")}"`, i]), ['a_b="1"', 2]]);
    for (const options of [TEXT("underscores"), OM("underscores")]) {
      const whole: Omitted = {};
      const parted: Omitted = {};
      const parts = [...renderSeriesParts(f, options, parted, 256)];
      expect(parts.length).toBe(2);
      expect(parts.join("")).toBe(renderSeries(f, options, whole));
      expect(parts.join("")).not.toContain("g{a_b=\"1\"} 1");
      expect([whole, parted]).toEqual([{ escaped_series_clash: 1 }, { escaped_series_clash: 1 }]);
    }
  });

  it("keeps the series that needed no escaping, else the first, and writes escaped series last", () => {
    const f = family("g", "gauge", [
      ['"a-b"="1"', 1],
      ['"a.b"="1"', 2],
      ['a_b="1"', 3],
      ['a_b="2"', 4],
      ['"a.b"="2"', 5],
      ['"a.c"="1"', 6],
      ['z="1"', 7],
    ]);
    for (const options of [TEXT("underscores"), OM("underscores")]) {
      const omitted: Omitted = {};
      expect(series(f, options, omitted)).toBe('g{a_b="1"} 3\ng{a_b="2"} 4\ng{z="1"} 7\ng{a_c="1"} 6\n');
      expect(omitted).toEqual({ escaped_series_clash: 3 });
    }
    // Other schemes keep them apart; allow-utf-8 escapes nothing and keeps the order.
    expect(series(f, TEXT("dots"))).toBe('g{a_b="1"} 3\ng{a_b="2"} 4\ng{z="1"} 7\ng{a__b="1"} 1\ng{a_dot_b="1"} 2\ng{a_dot_b="2"} 5\ng{a_dot_c="1"} 6\n');
    expect(series(f, TEXT("allow-utf-8"))).toBe('g{"a-b"="1"} 1\ng{"a.b"="1"} 2\ng{a_b="1"} 3\ng{a_b="2"} 4\ng{"a.b"="2"} 5\ng{"a.c"="1"} 6\ng{z="1"} 7\n');
  });

  it("detects a clash with a plain key seen before the first escaped one", () => {
    const f = family("g", "gauge", [
      ['a_b="1"', 1],
      ['b="1"', 2],
      ['"a.b"="1"', 3],
    ]);
    const omitted: Omitted = {};
    expect(series(f, TEXT("underscores"), omitted)).toBe('g{a_b="1"} 1\ng{b="1"} 2\n');
    expect(omitted).toEqual({ escaped_series_clash: 1 });
  });

  it("leaves out series whose own label names escape to the same name, or to __name__", () => {
    const f = family("g", "gauge", [
      ['"a.b"="1",a_b="2"', 1],
      ['"..name__"="x"', 2],
      ['"-name_"="x"', 3],
      ['"a.b"="3"', 4],
    ]);
    const omitted: Omitted = {};
    expect(series(f, TEXT("underscores"), omitted)).toBe('g{_name_="x"} 3\ng{a_b="3"} 4\n');
    expect(omitted).toEqual({ escaped_label_clash: 1, escaped_reserved_label: 1 });
    const dots: Omitted = {};
    expect(series(f, TEXT("dots"), dots)).toBe('g{a_b="2",a_dot_b="1"} 1\ng{_dot__dot_name____="x"} 2\ng{a_dot_b="3"} 4\n');
    expect(dots).toEqual({ escaped_reserved_label: 1 });
  });

  it("checks histograms and summaries too", () => {
    const f = family("h", "histogram", [
      ['"a.b"="1"', h(1, 1, Infinity, 1)],
      ['a_b="1"', h(2, 2, Infinity, 2)],
    ]);
    const omitted: Omitted = {};
    expect(series(f, OM("underscores"), omitted)).toBe('h_bucket{a_b="1",le="+Inf"} 2\nh_sum{a_b="1"} 2\nh_count{a_b="1"} 2\n');
    expect(omitted).toEqual({ escaped_series_clash: 1 });
  });

  it("does not let a series left out for its values claim its labels", () => {
    const f = family("c", "counter", [
      ['"a.b"="1"', -1],
      ['a_b="1"', 2],
    ]);
    const omitted: Omitted = {};
    expect(series(f, OM("underscores"), omitted)).toBe('c_total{a_b="1"} 2\n');
    expect(omitted).toEqual({ negative_counter_like: 1 });
  });
});

describe("UNIT (OpenMetrics)", () => {
  it("is written only when it is a unit and suffixes the family name", () => {
    const header = (name: string, unit: string, escaping: EscapingScheme = "underscores", type: MetricType = "gauge"): string =>
      renderHeader({ name, type, help: "", unit }, OM(escaping));
    expect(header("lat_seconds", "seconds")).toBe("# HELP lat_seconds \n# TYPE lat_seconds gauge\n# UNIT lat_seconds seconds\n");
    expect(header("bytes_total", "bytes", "underscores", "counter")).toBe("# HELP bytes \n# TYPE bytes counter\n");
    expect(header("io_bytes_total", "bytes", "underscores", "counter")).toBe("# HELP io_bytes \n# TYPE io_bytes counter\n# UNIT io_bytes bytes\n");
    expect(header("latency", "seconds")).toBe("# HELP latency \n# TYPE latency gauge\n");
    expect(header("lat_two words", "two words", "allow-utf-8")).toBe('# HELP "lat_two words" \n# TYPE "lat_two words" gauge\n');
    expect(header("lat.seconds", "seconds", "underscores")).toBe("# HELP lat_seconds \n# TYPE lat_seconds gauge\n# UNIT lat_seconds seconds\n");
    // Never in text.
    expect(renderHeader({ name: "lat_seconds", type: "gauge", help: "", unit: "seconds" }, TEXT("underscores"))).toBe("# HELP lat_seconds \n# TYPE lat_seconds gauge\n");
  });
});

describe("OpenMetrics counter names", () => {
  it("strips _total for the family name, except from a counter named just _total", () => {
    expect(renderFamily(family("_total", "counter", [["", 1]]), OM("underscores"))).toBe("# HELP _total \n# TYPE _total counter\n_total_total 1\n");
    expect(renderFamily(family("x", "counter", [["", 1]]), OM("underscores"))).toBe("# HELP x \n# TYPE x counter\nx_total 1\n");
  });
});

describe("claimFamilyNames", () => {
  function claims(options: RenderOptions, ...families: [string, MetricType][]): boolean[] {
    const claimed = new Set<string>();
    return families.map(([name, type]) => claimFamilyNames({ name, type }, options, claimed));
  }

  it("refuses a family escaping to a name already used", () => {
    expect(claims(TEXT("underscores"), ["a_b", "gauge"], ["a.b", "gauge"], ["a-b", "counter"])).toEqual([true, false, false]);
    expect(claims(TEXT("dots"), ["a_b", "gauge"], ["a.b", "gauge"], ["a-b", "counter"])).toEqual([true, true, true]);
    expect(claims(TEXT("allow-utf-8"), ["a_b", "gauge"], ["a.b", "gauge"])).toEqual([true, true]);
  });

  it("in text, refuses names a histogram's or summary's samples use", () => {
    expect(claims(TEXT("allow-utf-8"), ["foo", "histogram"], ["foo_bucket", "gauge"], ["foo_count", "gauge"], ["foo_sum", "counter"], ["foo_total", "gauge"])).toEqual([true, false, false, false, true]);
    expect(claims(TEXT("allow-utf-8"), ["foo_count", "gauge"], ["foo", "summary"], ["foo_bucket", "gauge"])).toEqual([true, false, true]);
    expect(claims(TEXT("allow-utf-8"), ["foo", "counter"], ["foo_total", "gauge"])).toEqual([true, true]);
  });

  it("in OpenMetrics, also _total and _created", () => {
    expect(claims(OM("allow-utf-8"), ["foo", "counter"], ["foo_total", "gauge"], ["foo_created", "gauge"], ["foo", "gauge"])).toEqual([true, false, false, false]);
    // A counter stored as foo_total is family foo.
    expect(claims(OM("allow-utf-8"), ["foo_total", "counter"], ["foo", "gauge"])).toEqual([true, false]);
    expect(claims(OM("allow-utf-8"), ["foo", "histogram"], ["foo_created", "gauge"])).toEqual([true, false]);
    expect(claims(OM("underscores"), ["foo.bar", "gauge"], ["foo_bar_total", "counter"])).toEqual([true, false]);
  });

  it("claims nothing when it refuses", () => {
    const claimed = new Set<string>(["foo_sum"]);
    expect(claimFamilyNames({ name: "foo", type: "summary" }, TEXT("underscores"), claimed)).toBe(false);
    expect([...claimed]).toEqual(["foo_sum"]);
  });
});

describe("clashingFamilies", () => {
  it("lets families exposed under their own name claim first, then escaped ones in order", () => {
    const families: { name: string; type: MetricType }[] = [
      { name: "a.b", type: "gauge" },
      { name: "a-b", type: "gauge" },
      { name: "a_b", type: "gauge" },
      { name: "h", type: "histogram" },
      { name: "h.count", type: "gauge" },
      { name: "h_sum", type: "gauge" },
    ];
    expect([...clashingFamilies(families, TEXT("underscores"))]).toEqual(["h_sum", "a.b", "a-b", "h.count"]);
    expect([...clashingFamilies(families, TEXT("dots"))]).toEqual(["h_sum"]);
    expect([...clashingFamilies(families, TEXT("allow-utf-8"))]).toEqual(["h_sum"]);
    expect([...clashingFamilies([{ name: "c", type: "counter" }, { name: "c_total", type: "gauge" }], OM("underscores"))]).toEqual(["c_total"]);
    expect([...clashingFamilies([{ name: "c", type: "counter" }, { name: "c_total", type: "gauge" }], TEXT("underscores"))]).toEqual([]);
  });
});
