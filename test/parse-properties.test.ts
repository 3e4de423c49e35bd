// Property tests of parseExposition (fast-check): whatever the input, the parser returns families or
// throws a GatewayError (never a TypeError, RangeError or anything else); and generated valid bodies,
// in both formats, parse back to exactly what was generated.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../src/common/errors";
import type { Family } from "../src/common/model";
import { type ParseOptions, parseExposition } from "../src/wire/exposition/parse";

/** Runs per property, and fixed seeds: CI checks the same cases every time, and a failure replays. */
const RUNS = 2_000;

/** Options the parser runs with: the defaults, a push's, and a Pushgateway push's (with grouping labels). */
const OPTIONS: readonly ParseOptions[] = [{}, { allowTimestamps: false, rejectUnsupported: true }, { allowTimestamps: false, rejectUnsupported: true, group: ["job", "j", "instance", ""] }];

/**
 * Parses `body` every way; anything thrown must be a GatewayError with a located message: a
 * ParseError says `line L, column C: ...`, an InvalidValue (a timestamp, a gaugehistogram) `line L: ...`.
 */
function parsesOrRejects(body: string): void {
  for (const format of ["text", "openmetrics"] as const) {
    for (const options of OPTIONS) {
      let families: unknown;
      try {
        families = parseExposition(body, format, options);
      } catch (error) {
        if (!(error instanceof GatewayError)) {
          throw new Error(`${format} ${JSON.stringify(options)}: threw ${String(error)} (not a GatewayError) for ${JSON.stringify(body)}`);
        }
        const located = error.name === "ParseError" ? /^line \d+, column \d+: \S/ : error.name === "InvalidValue" ? /^line \d+: \S/ : undefined;
        if (located === undefined || !located.test(error.message)) {
          throw new Error(`${format}: unexpected ${error.name} "${error.message}" for ${JSON.stringify(body)}`);
        }
        continue;
      }
      if (!Array.isArray(families)) throw new Error(`${format}: returned ${String(families)}`);
    }
  }
}

// ---- arbitrary input -----------------------------------------------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Single characters the parser cares about, plus any code point and lone surrogate halves. */
const oddChar = fc.oneof(
  fc.constantFrom("\n", "\r", "\t", " ", "\0", "{", "}", '"', "\\", "=", ",", "#", "+", "-", ".", "e", "_", ":", "\u00a0", "\u2028", "\ufeff", "😀"),
  loneSurrogate,
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);

/** Pieces of exposition text, so that random bodies get past the first character. */
const TOKENS = [
  "\n", " ", "\t", "\r", "\r\n", "\0", "{", "}", '"', "\\", "=", ",", "#", "# HELP ", "# TYPE ", "# UNIT ", "# EOF", "# EOF\n", "#HELP ",
  "a", "b", "h", "m", "a_b", ":", "\"m.x\"", '"le"', "__name__", "le", "quantile", "_bucket", "_sum", "_count", "_total", "_created", "_info", "_gsum", "_gcount",
  "counter", "gauge", "histogram", "summary", "untyped", "unknown", "gaugehistogram", "gauge_histogram", "info", "stateset",
  "NaN", "+Inf", "-Inf", "Inf", "1", "0", "-1", "1.5", ".5", "1e3", "1e400", "0x1", "1_0", "08", "-0", "1700000000", "1700000000.5",
  "\\n", '\\"', "\\\\", "\\t", "\\x", "😀", "\ud800", "\udc00", "ü",
  'le="+Inf"', 'le="1"', 'quantile="0.5"', '{le="1"}', '{quantile="0.5"}', '{a="1"}', '{"a"}', '{a="1","m"}', " # {a=\"b\"} 1", " 1\n", " NaN\n",
];
const token = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TOKENS) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z_][a-z0-9_]{0,5}$/) },
  { weight: 1, arbitrary: fc.double().map(String) },
  { weight: 1, arbitrary: oddChar },
);
const tokenSoup = fc.array(token, { maxLength: 80 }).map((parts) => parts.join(""));

describe("any input: families or a GatewayError, nothing else", () => {
  it(`arbitrary strings (${RUNS} runs)`, () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), parsesOrRejects), { numRuns: RUNS, seed: 0x5eed01 });
  });

  it(`arbitrary characters: NUL, CR, quotes, braces, '#', lone surrogates (${RUNS} runs)`, () => {
    fc.assert(fc.property(fc.string({ unit: oddChar, maxLength: 300 }), parsesOrRejects), { numRuns: RUNS, seed: 0x5eed02 });
  });

  it(`bodies made of exposition tokens (${RUNS} runs)`, () => {
    fc.assert(fc.property(tokenSoup, parsesOrRejects), { numRuns: RUNS, seed: 0x5eed03 });
  });

  it(`valid bodies with random damage (${RUNS} runs)`, () => {
    const damage = fc.array(fc.tuple(fc.nat(), fc.nat(8), fc.oneof(token, fc.constant(""))), { minLength: 1, maxLength: 4 });
    const damaged = fc.oneof(textBody, omBody).chain(({ body }) =>
      damage.map((edits) => {
        let out = body;
        for (const [at, cut, insert] of edits) {
          const i = out.length === 0 ? 0 : at % out.length;
          out = out.slice(0, i) + insert + out.slice(i + cut);
        }
        return out;
      }),
    );
    fc.assert(fc.property(damaged, parsesOrRejects), { numRuns: RUNS, seed: 0x5eed04 });
  });
});

// ---- generated valid bodies ----------------------------------------------------------------------

type Kind = "counter" | "gauge" | "untyped" | "histogram" | "summary";

interface GenHistogram {
  bounds: number[];
  counts: number[];
  sum: number | undefined;
  /** Written as `_count`. */
  withCount: boolean;
  /** Written as a `le="+Inf"` bucket (the text format may leave it out when there is a `_count`). */
  withInf: boolean;
}

interface GenSummary {
  quantiles: number[];
  values: number[];
  sum: number | undefined;
  count: number | undefined;
}

/** One label as written: its name and value, and how the body spells it. */
interface GenLabel {
  name: string;
  value: string;
  quoteName: boolean;
  blanks: boolean;
}

interface GenSeries {
  labels: GenLabel[];
  value: number | GenHistogram | GenSummary;
  /** Where the quoted metric name goes among the labels (text format, quoted names). */
  namePosition: number;
}

interface GenFamily {
  name: string;
  kind: Kind;
  /** undefined: no HELP line. */
  help: string | undefined;
  /** Text format: write `# TYPE` for an untyped family too; HELP after the samples. */
  writeType: boolean;
  helpLast: boolean;
  /** Text format: write a legacy name quoted, `{"name",...}`. */
  quoteName: boolean;
  series: GenSeries[];
}

/** What the parser must return for a family: its series as labels (no empty values) and values. */
interface Expected {
  name: string;
  type: string;
  help: string;
  series: { labels: Record<string, string>; value: unknown }[];
}

const SUFFIXES = ["_bucket", "_sum", "_count", "_total", "_created", "_info", "_gsum", "_gcount"];
const legacyName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A family name no other family's samples can use. */
const metricName = (om: boolean): fc.Arbitrary<string> =>
  (om ? fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,7}$/) : fc.oneof(fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,7}$/), fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }))).filter(
    (n) => !SUFFIXES.some((x) => n.endsWith(x)) && n !== "",
  );

const labelName = (om: boolean): fc.Arbitrary<string> =>
  (om ? fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,5}$/) : fc.oneof(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,5}$/), fc.string({ unit: "grapheme", minLength: 1, maxLength: 4 }))).filter(
    (n) => !n.startsWith("__") && n !== "le" && n !== "quantile",
  );

/** Label values: anything Unicode, with what needs escaping more often. */
const labelValue = fc.string({
  unit: fc.oneof(fc.constantFrom('"', "\\", "\n", "\r", "\t", " ", ",", "=", "{", "}", "#", "n"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })),
  maxLength: 8,
});

/** HELP text: it cannot start with a blank (blanks before it are skipped) nor end in CR (a CRLF line end). */
const helpText = fc
  .string({ unit: fc.oneof(fc.constantFrom('"', "\\", "\n", "\t", " ", "#", "n"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 12 })
  .filter((h) => !/^[ \t\r]/.test(h) && !h.endsWith("\r"));

/** A label set's identity: its non-empty pairs, sorted (what makes two series the same). */
function identity(labels: readonly GenLabel[]): string {
  return JSON.stringify(
    labels
      .filter((l) => l.value !== "")
      .map((l) => [l.name, l.value])
      .sort(([a], [b]) => ((a ?? "") < (b ?? "") ? -1 : 1)),
  );
}

const labelSet = (om: boolean): fc.Arbitrary<GenLabel[]> =>
  fc.uniqueArray(fc.record({ name: labelName(om), value: labelValue, quoteName: om ? fc.constant(false) : fc.boolean(), blanks: om ? fc.constant(false) : fc.boolean() }), { selector: (l) => l.name, maxLength: 4 });

const cumulative = (increments: readonly number[]): number[] => {
  const out: number[] = [];
  let total = 0;
  for (const x of increments) out.push((total += x));
  return out;
};

const histogramValue = (om: boolean): fc.Arbitrary<GenHistogram> =>
  fc
    .uniqueArray(om ? fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }) : fc.double({ noNaN: true, noDefaultInfinity: true }), { comparator: (a, b) => a === b, maxLength: 5 })
    .map((bounds) => [...bounds].sort((a, b) => a - b))
    .chain((bounds) =>
      fc.record({
        bounds: fc.constant(bounds),
        counts: fc.array(fc.oneof(fc.nat(50), fc.double({ min: 0, max: 50, noNaN: true })), { minLength: bounds.length + 1, maxLength: bounds.length + 1 }).map(cumulative),
        sum: om ? fc.option(fc.double({ min: 0, noNaN: true }), { nil: undefined }) : fc.option(fc.double(), { nil: undefined }),
        withCount: fc.boolean(),
        withInf: fc.boolean(),
      }),
    )
    // OpenMetrics: the +Inf bucket always, and _sum and _count both or neither. Text: +Inf or _count.
    .map((h) => (om ? { ...h, withInf: true, withCount: h.sum !== undefined } : { ...h, withInf: h.withInf || !h.withCount }));

const summaryValue = (om: boolean): fc.Arbitrary<GenSummary> =>
  fc.uniqueArray(fc.double({ min: 0, max: 1, noNaN: true }), { comparator: (a, b) => a === b, maxLength: 4 }).chain((quantiles) =>
    fc.record({
      quantiles: fc.constant(quantiles),
      values: fc.array(om ? fc.double({ min: 0, noNaN: true }) : fc.double(), { minLength: quantiles.length, maxLength: quantiles.length }),
      sum: fc.option(om ? fc.double({ min: 0, noNaN: true }) : fc.double(), { nil: undefined }),
      count: fc.option(fc.double({ min: 0, noNaN: true }), { nil: undefined }),
    }),
  )
  // A series with no sample at all is not in the body.
  .filter((s) => s.quantiles.length > 0 || s.sum !== undefined || s.count !== undefined);

const scalarValue = (om: boolean, kind: Kind): fc.Arbitrary<number> => (om && kind === "counter" ? fc.double({ min: 0, noNaN: true }) : fc.double());

const family = (om: boolean): fc.Arbitrary<GenFamily> =>
  fc
    .record({
      name: metricName(om),
      kind: fc.constantFrom<Kind>("counter", "gauge", "untyped", "histogram", "summary"),
      help: fc.option(helpText, { nil: undefined }),
      writeType: fc.boolean(),
      helpLast: om ? fc.constant(false) : fc.boolean(),
      quoteName: om ? fc.constant(false) : fc.boolean(),
    })
    .chain((f) => {
      const value: fc.Arbitrary<GenSeries["value"]> = f.kind === "histogram" ? histogramValue(om) : f.kind === "summary" ? summaryValue(om) : scalarValue(om, f.kind);
      const series = fc.uniqueArray(fc.record({ labels: labelSet(om), value, namePosition: fc.nat(4) }), { selector: (x) => identity(x.labels), minLength: 1, maxLength: 4 });
      return series.map((s) => ({ ...f, series: s }));
    });

/** Families with names no two share. */
const families = (om: boolean): fc.Arbitrary<GenFamily[]> => fc.uniqueArray(family(om), { selector: (f) => f.name, minLength: 0, maxLength: 5 });

/** A number as the formats write it (`-0` keeps its sign; the text format also takes other spellings of infinity). */
function num(n: number, spelling = 0): string {
  if (Number.isNaN(n)) return ["NaN", "nan"][spelling % 2] ?? "NaN";
  if (n === Infinity) return ["+Inf", "Inf", "+inf", "infinity"][spelling % 4] ?? "+Inf";
  if (n === -Infinity) return ["-Inf", "-inf"][spelling % 2] ?? "-Inf";
  return Object.is(n, -0) ? "-0" : String(n);
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function quoteName(name: string): string {
  return `"${escapeValue(name)}"`;
}

/** A family's lines in the text format (TYPE first, HELP first or last). */
function textLines(f: GenFamily, spelling: number): string[] {
  const ref = legacyName.test(f.name.replace(/:/g, "_")) && !f.quoteName ? f.name : quoteName(f.name);
  const lines: string[] = [];
  const help = f.help === undefined ? [] : [`# HELP ${ref} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`];
  if (!f.helpLast) lines.push(...help);
  if (f.kind !== "untyped" || f.writeType) lines.push(`# TYPE ${ref} ${f.kind}`);
  const plain = ref === f.name;
  for (const s of f.series) {
    const sample = (suffix: string, extra: string | undefined, value: number): string => {
      const labels = s.labels.map((l) => {
        const n = l.quoteName || !legacyName.test(l.name) ? quoteName(l.name) : l.name;
        return l.blanks ? `${n} = "${escapeValue(l.value)}"` : `${n}="${escapeValue(l.value)}"`;
      });
      if (extra !== undefined) labels.push(extra);
      const sep = spelling % 3 === 0 ? "\t" : " ";
      if (plain) return `${f.name}${suffix}${labels.length > 0 ? `{${labels.join(spelling % 2 === 0 ? "," : ", ")}}` : ""}${sep}${num(value, spelling)}`;
      // The quoted name anywhere among the labels; the value right after '}' now and then.
      labels.splice(s.namePosition % (labels.length + 1), 0, quoteName(f.name + suffix));
      return `{${labels.join(",")}}${spelling % 5 === 0 ? "" : sep}${num(value, spelling)}`;
    };
    const v = s.value;
    if (typeof v === "number") {
      lines.push(sample("", undefined, v));
    } else if ("bounds" in v) {
      v.bounds.forEach((le, i) => lines.push(sample("_bucket", `le="${num(le)}"`, v.counts[i] ?? 0)));
      const total = v.counts[v.bounds.length] ?? 0;
      if (v.withInf) lines.push(sample("_bucket", `le="+Inf"`, total));
      if (v.sum !== undefined) lines.push(sample("_sum", undefined, v.sum));
      if (v.withCount) lines.push(sample("_count", undefined, total));
    } else {
      v.quantiles.forEach((q, i) => lines.push(sample("", `quantile="${num(q)}"`, v.values[i] ?? 0)));
      if (v.sum !== undefined) lines.push(sample("_sum", undefined, v.sum));
      if (v.count !== undefined) lines.push(sample("_count", undefined, v.count));
    }
  }
  if (f.helpLast) lines.push(...help);
  return lines;
}

/** A family in OpenMetrics: metadata first, one space everywhere, counters as `_total`. */
function omLines(f: GenFamily): string[] {
  const lines: string[] = [];
  if (f.help !== undefined) lines.push(`# HELP ${f.name} ${escapeValue(f.help)}`);
  lines.push(`# TYPE ${f.name} ${f.kind === "untyped" ? "unknown" : f.kind}`);
  for (const s of f.series) {
    const sample = (suffix: string, extra: string | undefined, value: number): string => {
      const labels = s.labels.map((l) => `${l.name}="${escapeValue(l.value)}"`);
      if (extra !== undefined) labels.push(extra);
      return `${f.name}${suffix}${labels.length > 0 ? `{${labels.join(",")}}` : ""} ${num(value)}`;
    };
    const v = s.value;
    if (typeof v === "number") {
      lines.push(sample(f.kind === "counter" ? "_total" : "", undefined, v));
    } else if ("bounds" in v) {
      v.bounds.forEach((le, i) => lines.push(sample("_bucket", `le="${num(le)}"`, v.counts[i] ?? 0)));
      const total = v.counts[v.bounds.length] ?? 0;
      lines.push(sample("_bucket", `le="+Inf"`, total));
      if (v.sum !== undefined) lines.push(sample("_sum", undefined, v.sum), sample("_count", undefined, total));
    } else {
      v.quantiles.forEach((q, i) => lines.push(sample("", `quantile="${num(q)}"`, v.values[i] ?? 0)));
      if (v.sum !== undefined) lines.push(sample("_sum", undefined, v.sum));
      if (v.count !== undefined) lines.push(sample("_count", undefined, v.count));
    }
  }
  return lines;
}

/** What parsing the generated families must give, by family name. */
function expectedOf(gen: readonly GenFamily[], om: boolean): Expected[] {
  return gen
    .map((f) => ({
      name: om && f.kind === "counter" ? `${f.name}_total` : f.name,
      type: f.kind,
      help: f.help ?? "",
      series: sortSeries(
        f.series.map((s) => {
          const labels: Record<string, string> = {};
          for (const l of s.labels) if (l.value !== "") labels[l.name] = l.value;
          const v = s.value;
          let value: unknown = v;
          if (typeof v !== "number" && "bounds" in v) {
            const total = v.counts[v.bounds.length] ?? 0;
            value = { bounds: [...v.bounds, Infinity], counts: v.counts, sum: v.sum, count: v.withCount ? total : undefined };
          }
          return { labels, value };
        }),
      ),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The parse result in the same shape, its keys decoded here (not with labels.ts). */
function actualOf(parsed: readonly Family[]): Expected[] {
  return parsed
    .map((f) => ({
      name: f.name,
      type: f.type,
      help: f.help,
      series: sortSeries(f.keys.map((key, i) => ({ labels: decodeKey(key), value: f.values[i] }))),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

function sortSeries<T extends { labels: Record<string, string> }>(series: T[]): T[] {
  const id = (x: T): string => JSON.stringify(Object.entries(x.labels).sort(([a], [b]) => (a < b ? -1 : 1)));
  return series.sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}

/** The labels of a canonical key: `a="x","k.8"="y"` with `\\ \" \n` escaped. */
function decodeKey(key: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const quoted = (): string => {
    let text = "";
    for (i++; key[i] !== '"'; i++) {
      if (i >= key.length) throw new Error(`unterminated string in key ${key}`);
      if (key[i] === "\\") text += key[++i] === "n" ? "\n" : (key[i] ?? "");
      else text += key[i];
    }
    i++;
    return text;
  };
  while (i < key.length) {
    let name: string;
    if (key[i] === '"') {
      name = quoted();
    } else {
      const eq = key.indexOf("=", i);
      name = key.slice(i, eq);
      i = eq;
    }
    i++;
    out[name] = quoted();
    i++;
  }
  return out;
}

/** A text body: the families' lines interleaved (each family's own order kept), as the text format allows. */
const textBody = fc.record({ gen: families(false), picks: fc.array(fc.nat(), { maxLength: 200 }), spelling: fc.nat(59), crlf: fc.boolean() }).map(({ gen, picks, spelling, crlf }) => {
  const queues = gen.map((f) => textLines(f, spelling));
  const lines: string[] = [];
  let k = 0;
  for (;;) {
    const open = queues.filter((q) => q.length > 0);
    if (open.length === 0) break;
    const q = open[(picks[k++] ?? 0) % open.length];
    const line = q?.shift();
    if (line !== undefined) lines.push(line);
  }
  const eol = crlf ? "\r\n" : "\n";
  return { gen, body: lines.length === 0 ? "" : lines.join(eol) + eol };
});

const omBody = families(true).map((gen) => ({ gen, body: `${gen.flatMap(omLines).map((l) => `${l}\n`).join("")}# EOF\n` }));

describe("generated valid bodies parse back to what was generated", () => {
  it("generates what the round trips claim to cover", () => {
    const text = fc.sample(textBody, { numRuns: 500, seed: 0x5eed07 });
    const series = text.flatMap(({ gen }) => gen.flatMap((f) => f.series.map((s) => ({ f, s }))));
    const count = (p: (x: { f: GenFamily; s: GenSeries }) => boolean): number => series.filter(p).length;
    expect(text.filter(({ gen }) => gen.length >= 2).length).toBeGreaterThan(100);
    // Quoted metric names after some labels, histograms without a +Inf bucket, HELP after samples.
    expect(count(({ f, s }) => !legacyName.test(f.name.replace(/:/g, "_")) && s.labels.length > 0 && s.namePosition % (s.labels.length + 1) > 0)).toBeGreaterThan(20);
    expect(count(({ s }) => typeof s.value !== "number" && "withInf" in s.value && !s.value.withInf)).toBeGreaterThan(20);
    expect(text.filter(({ gen }) => gen.some((f) => f.helpLast && f.help !== undefined)).length).toBeGreaterThan(20);
    // Escapes in label values, and families whose lines are interleaved with another's.
    expect(text.filter(({ body }) => body.includes('\\"') || body.includes("\\\\")).length).toBeGreaterThan(50);
    const interleaved = text.filter(({ body }) => {
      const order = body.split(/\r?\n/).filter((l) => l !== "" && !l.startsWith("#")).map((l) => l.replace(/[{ \t].*$/, ""));
      return order.some((name, i) => i > 1 && name !== order[i - 1] && order.slice(0, i - 1).includes(name));
    });
    expect(interleaved.length).toBeGreaterThan(20);
    const om = fc.sample(omBody, { numRuns: 200, seed: 0x5eed08 });
    expect(om.filter(({ gen }) => gen.some((f) => f.kind === "histogram")).length).toBeGreaterThan(50);
  });

  it(`text format: UTF-8 names (quoted anywhere in the braces), escapes, blanks, interleaved families, HELP after samples, +Inf from _count (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(textBody, ({ gen, body }) => {
        expect(actualOf(parseExposition(body, "text", { allowTimestamps: false }))).toEqual(expectedOf(gen, false));
      }),
      { numRuns: RUNS, seed: 0x5eed05 },
    );
  });

  it(`OpenMetrics (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(omBody, ({ gen, body }) => {
        expect(actualOf(parseExposition(body, "openmetrics", { allowTimestamps: false, rejectUnsupported: true }))).toEqual(expectedOf(gen, true));
      }),
      { numRuns: RUNS, seed: 0x5eed06 },
    );
  });
});
