// The text-format cases of prometheus/common's expfmt parser (the Pushgateway's parser), run against
// parseExposition: valid bodies must give exactly Go's samples, invalid ones must be rejected, except
// where this file says why not. The cases are data in test/data/expfmt-cases.ts; docs/conformance.md
// sums up the outcome.
import { describe, expect, it } from "vitest";
import { type ErrorName, GatewayError } from "../src/common/errors";
import type { Family } from "../src/common/model";
import { utf8 } from "../src/wire/body";
import { type ParseOptions, parseExposition } from "../src/wire/exposition/parse";
import { type ExpfmtFamily, type ExpfmtInvalidCase, type ExpfmtSample, type ExpfmtValidCase, INVALID_CASES, VALID_CASES } from "./data/expfmt-cases";

/** The options every push is parsed with (`parseBody`, src/wire/push-body.ts). */
const PUSH: ParseOptions = { allowTimestamps: false, rejectUnsupported: true };

/** What a case is expected to come to; the summary test counts these. */
const EXPECTED_COUNTS = {
  /** Valid in Go, and parsed to exactly Go's samples. */
  validExact: 12,
  /** Valid in Go, rejected on purpose (BY_DESIGN). */
  byDesign: 8,
  /** Invalid in Go, and rejected here too. */
  invalidRejected: 45,
  /** Invalid in Go, accepted here on purpose (DIFFERENCES). */
  documentedDifferences: 1,
};

/** An error a case must end in: its name and a pattern for its message. */
interface Rejection {
  name: ErrorName;
  message: RegExp;
}

/** A second look at a by-design case with the rule that rejects it lifted. */
interface Lifted {
  /** What is lifted, for the test's name. */
  what: string;
  options: ParseOptions;
  /** 1-based lines of the input left out. */
  dropLines?: readonly number[];
  /** Then the body parses to Go's samples less these, or is rejected so. */
  outcome: { withoutSamples: readonly ExpfmtSample[] } | Rejection;
}

/** Valid in Go, rejected by the gateway on purpose: why, how, and what the rest of the body comes to. */
const BY_DESIGN: Readonly<Record<string, { reason: string; push: Rejection; lifted: readonly Lifted[] }>> = {
  "valid-1": {
    reason: "a sample timestamp (another_metric -3e3 103948): pushes are parsed with allowTimestamps: false, the gateway stamps its own time",
    push: { name: "InvalidValue", message: /^line 3: sample has a timestamp/ },
    lifted: [{ what: "timestamps allowed", options: { allowTimestamps: true }, outcome: { withoutSamples: [] } }],
  },
  "valid-2": {
    reason: "sample timestamps (0.23 1234567890, +Inf 54321)",
    push: { name: "InvalidValue", message: /^line 6: sample has a timestamp/ },
    lifted: [{ what: "timestamps allowed", options: { allowTimestamps: true }, outcome: { withoutSamples: [] } }],
  },
  "valid-3": {
    reason:
      'sample timestamps (decoy -1 -2, ...), and quantile="-12.34": the text format defines quantiles as 0 <= q <= 1 and the gateway keeps summaries by quantile',
    push: { name: "InvalidValue", message: /^line 4: sample has a timestamp/ },
    lifted: [
      { what: "timestamps allowed", options: { allowTimestamps: true }, outcome: { name: "ParseError", message: /^line 16, column 44: quantile -12\.34 is outside \[0, 1\]/ } },
      {
        what: "timestamps allowed, the quantile -12.34 line left out",
        options: { allowTimestamps: true },
        dropLines: [16],
        outcome: { withoutSamples: [{ name: "my_summary", labels: { n2: "val2", n1: "val1", quantile: "-12.34" }, value: NaN }] },
      },
    ],
  },
  "valid-6": {
    reason: "a sample timestamp (0.23 1234567890)",
    push: { name: "InvalidValue", message: /^line 5: sample has a timestamp/ },
    lifted: [{ what: "timestamps allowed", options: { allowTimestamps: true }, outcome: { withoutSamples: [] } }],
  },
  "valid-7": {
    reason:
      'the same series {"name.with.dots"} twice (the Pushgateway rejects duplicate series too, after parsing), and a sample timestamp',
    push: { name: "InvalidValue", message: /^line 5: sample has a timestamp/ },
    lifted: [{ what: "timestamps allowed", options: { allowTimestamps: true }, outcome: { name: "ParseError", message: /^line 5, column 5: duplicate series name\.with\.dots\{\}/ } }],
  },
  "valid-15": {
    reason: 'TYPE gaugehistogram: not a text-format type; the gateway does not store gauge histograms (OpenMetrics ones are rejected too)',
    push: { name: "ParseError", message: /^line 3, column 38: unknown metric type "gaugehistogram" \(the gateway does not store gauge histograms/ },
    lifted: [],
  },
  "valid-16": {
    reason: "TYPE gauge_histogram: as valid-15",
    push: { name: "ParseError", message: /^line 3, column 38: unknown metric type "gauge_histogram" \(the gateway does not store gauge histograms/ },
    lifted: [],
  },
  "valid-17": {
    reason: "TYPE gauge_histogram: as valid-15",
    push: { name: "ParseError", message: /^line 3, column 38: unknown metric type "gauge_histogram" \(the gateway does not store gauge histograms/ },
    lifted: [],
  },
};

/**
 * Samples the gateway has beyond Go's parse result, on purpose. The Go parser leaves a histogram
 * without a +Inf bucket as it is, and expfmt's text writer adds le="+Inf" equal to _count when it
 * writes one out, so the Pushgateway exposes exactly this sample.
 */
const ADDED_SAMPLES: Readonly<Record<string, { reason: string; samples: readonly ExpfmtSample[] }>> = {
  "valid-13": {
    reason: 'no le="+Inf" bucket but a _count: the +Inf bucket is added, equal to _count',
    samples: [{ name: "request_duration_microseconds_bucket", labels: { le: "+Inf" }, value: 2693.9 }],
  },
};

/** Invalid in Go, accepted here on purpose: why, and what the body comes to. */
const DIFFERENCES: Readonly<Record<string, { reason: string; samples: readonly ExpfmtSample[] }>> = {
  "error-0": {
    reason:
      "a body whose last line has no newline: both Go parsers (expfmt and Prometheus's scrape parser) reject it, the gateway keeps the complete last sample (an existing, tested behaviour: test/http.test.ts)",
    samples: [
      { name: "bla", labels: {}, value: 3.14 },
      { name: "blubber", labels: {}, value: 42 },
    ],
  },
};

/** How each invalid case must be rejected: the column (the line is Go's) and the reason in our words. */
const REJECTIONS: Readonly<Record<string, { column: number; message: RegExp } | { utf8: RegExp }>> = {
  "error-1": { column: 15, message: /invalid escape sequence "\\t"/ },
  "error-2": { column: 14, message: /unterminated quoted string/ },
  "error-3": { column: 8, message: /expected a label name, found "@"/ },
  "error-4": { column: 8, message: /label name "__name__" starts with "__"/ },
  "error-5": { column: 13, message: /expected '=' after label name "label", found "\+"/ },
  "error-6": { column: 14, message: /expected '"' to open the value of label "label"/ },
  "error-7": { column: 18, message: /quantile="bla" is not a number/ },
  "error-8": { column: 19, message: /expected ',' or '\}' after the value of label "label", found "\+"/ },
  "error-9": { column: 26, message: /invalid timestamp "2\.72"/ },
  "error-10": { column: 28, message: /found "3" after the timestamp/ },
  "error-11": { column: 21, message: /invalid sample value "blubb"/ },
  "error-12": { column: 8, message: /second HELP line for "metric"/ },
  "error-13": { column: 8, message: /second TYPE line for "metric"/ },
  "error-14": { column: 8, message: /# TYPE for "metric" comes after its samples/ },
  "error-15": { column: 15, message: /unknown metric type "bla"/ },
  "error-16": { column: 11, message: /found "-" in metric name "met"/ },
  "error-17": { column: 1, message: /expected a metric name at the start of the line, found "@"/ },
  "error-18": { column: 1, message: /the sample has no metric name/ },
  "error-19": { column: 19, message: /le="bla" is not a number/ },
  // Not UTF-8: every push body is decoded by utf8() (src/wire/body.ts) before it is parsed.
  "error-20": { utf8: /^the body is not valid UTF-8/ },
  "error-21": { column: 5, message: /invalid sample value "1_2"/ },
  "error-22": { column: 5, message: /invalid sample value "0x1p-3"/ },
  "error-23": { column: 5, message: /invalid sample value "0x1P-3"/ },
  "error-24": { column: 5, message: /invalid sample value "0B1"/ },
  "error-25": { column: 5, message: /invalid sample value "0O1"/ },
  "error-26": { column: 5, message: /invalid sample value "0X1"/ },
  "error-27": { column: 5, message: /invalid sample value "0x1"/ },
  "error-28": { column: 5, message: /invalid sample value "0b1"/ },
  "error-29": { column: 5, message: /invalid sample value "0o1"/ },
  "error-30": { column: 5, message: /invalid sample value "0x1"/ },
  "error-31": { column: 5, message: /invalid sample value "0x1"/ },
  "error-32": { column: 19, message: /le="0x1p-3" is not a number/ },
  "error-33": { column: 18, message: /quantile="0x1p-3" is not a number/ },
  "error-34": { column: 20, message: /label "label" appears twice/ },
  "error-35": { column: 13, message: /"another\.name" is a second metric name/ },
  "error-36": { column: 4, message: /invalid escape sequence "\\x"/ },
  "error-37": { column: 15, message: /expected ',' or '\}' after the quoted metric name, found "\."/ },
  "error-38": { column: 20, message: /invalid escape sequence "\\t"/ },
  "error-39": { column: 8, message: /unterminated quoted string/ },
  "error-40": { column: 16, message: /unterminated quoted string/ },
  "error-43": { column: 37, message: /_count -2693 is not a non-negative number/ },
  "error-44": { column: 48, message: /bucket count -412 is not a non-negative number/ },
  "error-45": { column: 37, message: /_count -2693\.123 is not a non-negative number/ },
  "error-46": { column: 48, message: /bucket count -412\.456 is not a non-negative number/ },
  "error-47": { column: 1, message: /the sample has no metric name/ },
};

// ---- turning parse results into samples ---------------------------------------------------------

/**
 * The labels of a canonical key (`a="x",b="y"`, names quoted when not `[a-zA-Z_][a-zA-Z0-9_]*`),
 * decoded here rather than with labels.ts, so that the expectations do not go through the code the
 * parser shares.
 */
function decodeKey(key: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  const quoted = (): string => {
    let out = "";
    for (i++; key[i] !== '"'; i++) {
      if (i >= key.length) throw new Error(`unterminated string in key ${key}`);
      if (key[i] === "\\") {
        i++;
        out += key[i] === "n" ? "\n" : key[i];
      } else {
        out += key[i];
      }
    }
    i++;
    return out;
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
    if (key[i] !== "=") throw new Error(`expected '=' at ${i} in key ${key}`);
    i++;
    labels[name] = quoted();
    if (i < key.length && key[i++] !== ",") throw new Error(`expected ',' at ${i - 1} in key ${key}`);
  }
  return labels;
}

/** A float as Go's strconv.FormatFloat(v, 'g', -1, 64) writes it (how expfmt writes le and quantile). */
function goFloat(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const [mantissa = "", exp = "0"] = v.toExponential().split("e");
  const e = Number(exp);
  if (e < -4 || e >= 21) return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  return String(v);
}

/** A parse result as samples, one per number it holds (see the header of test/data/expfmt-cases.ts). */
function samplesOf(families: readonly Family[]): ExpfmtSample[] {
  const out: ExpfmtSample[] = [];
  for (const f of families) {
    f.keys.forEach((key, i) => {
      const labels = decodeKey(key);
      if (f.type === "histogram") {
        const h = f.values[i];
        if (h === undefined) throw new Error(`${f.name}: no value for series ${i}`);
        h.bounds.forEach((le, b) => out.push({ name: `${f.name}_bucket`, labels: { ...labels, le: goFloat(le) }, value: h.counts[b] ?? NaN }));
        if (h.sum !== undefined) out.push({ name: `${f.name}_sum`, labels, value: h.sum });
        if (h.count !== undefined) out.push({ name: `${f.name}_count`, labels, value: h.count });
      } else if (f.type === "summary") {
        const s = f.values[i];
        if (s === undefined) throw new Error(`${f.name}: no value for series ${i}`);
        s.quantiles.forEach((q, k) => out.push({ name: f.name, labels: { ...labels, quantile: goFloat(q) }, value: s.values[k] ?? NaN }));
        if (s.sum !== undefined) out.push({ name: `${f.name}_sum`, labels, value: s.sum });
        if (s.count !== undefined) out.push({ name: `${f.name}_count`, labels, value: s.count });
      } else {
        out.push({ name: f.name, labels, value: f.values[i] ?? NaN });
      }
    });
  }
  return sorted(out);
}

/** Samples in one order (name, then labels), since neither side promises one; values compare with Object.is. */
function sorted(samples: readonly ExpfmtSample[]): ExpfmtSample[] {
  const order = (x: ExpfmtSample): string => `${x.name}\u0000${JSON.stringify(Object.entries(x.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
  return [...samples].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

/** The families that have series, as the Go parser reports them (it drops families without metrics). */
function familiesOf(families: readonly Family[]): ExpfmtFamily[] {
  return families
    .filter((f) => f.keys.length > 0)
    .map((f) => ({ name: f.name, type: f.type, help: f.help }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function expectedFamilies(c: ExpfmtValidCase): ExpfmtFamily[] {
  return [...c.families].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function sameSample(a: ExpfmtSample, b: ExpfmtSample): boolean {
  const ka = Object.keys(a.labels);
  return a.name === b.name && Object.is(a.value, b.value) && ka.length === Object.keys(b.labels).length && ka.every((k) => a.labels[k] === b.labels[k]);
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function bodyOf(c: ExpfmtInvalidCase): string {
  if (typeof c.input === "string") return c.input;
  throw new Error(`${c.id} is bytes: decode it first`);
}

function expectRejection(error: unknown, rejection: Rejection): void {
  expect(error).toBeInstanceOf(GatewayError);
  if (!(error instanceof GatewayError)) return;
  expect(error.name).toBe(rejection.name);
  expect(error.message).toMatch(rejection.message);
}

function withoutLines(input: string, lines: readonly number[]): string {
  return input
    .split("\n")
    .filter((_, i) => !lines.includes(i + 1))
    .join("\n");
}

// ---- the cases ----------------------------------------------------------------------------------

describe("expfmt text-format cases (prometheus/common expfmt/text_parse_test.go)", () => {
  it("has every case, each classified exactly once", () => {
    expect(VALID_CASES.length).toBe(20);
    expect(INVALID_CASES.length).toBe(46);
    const ids = [...VALID_CASES, ...INVALID_CASES].map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of VALID_CASES) expect(c.id in DIFFERENCES || c.id in REJECTIONS, c.id).toBe(false);
    for (const c of INVALID_CASES) {
      expect(c.id in BY_DESIGN || c.id in ADDED_SAMPLES, c.id).toBe(false);
      expect(Number(c.id in DIFFERENCES) + Number(c.id in REJECTIONS), c.id).toBe(1);
    }
  });

  describe("valid in Go: parsed to exactly Go's samples", () => {
    const exact = VALID_CASES.filter((c) => !(c.id in BY_DESIGN));
    it.each(exact.map((c) => [`${c.id}: ${c.title}`, c] as const))("%s", (_name, c) => {
      const families = parseExposition(c.input, "text", PUSH);
      expect(familiesOf(families)).toEqual(expectedFamilies(c));
      expect(samplesOf(families)).toEqual(sorted([...c.samples, ...(ADDED_SAMPLES[c.id]?.samples ?? [])]));
    });
  });

  describe("valid in Go, rejected by design", () => {
    const cases = VALID_CASES.filter((c) => c.id in BY_DESIGN);
    it.each(cases.map((c) => [`${c.id}: ${BY_DESIGN[c.id]?.reason ?? ""}`, c] as const))("%s", (_name, c) => {
      const design = BY_DESIGN[c.id];
      if (design === undefined) throw new Error(`${c.id} is not by design`);
      expectRejection(
        errorOf(() => parseExposition(c.input, "text", PUSH)),
        design.push,
      );
      for (const lifted of design.lifted) {
        const body = withoutLines(c.input, lifted.dropLines ?? []);
        if ("withoutSamples" in lifted.outcome) {
          const drop = lifted.outcome.withoutSamples;
          const families = parseExposition(body, "text", lifted.options);
          expect(familiesOf(families), lifted.what).toEqual(expectedFamilies(c));
          const expected = c.samples.filter((x) => !drop.some((d) => sameSample(d, x)));
          expect(expected.length, `${lifted.what}: samples left out`).toBe(c.samples.length - drop.length);
          expect(samplesOf(families), lifted.what).toEqual(sorted(expected));
        } else {
          expectRejection(
            errorOf(() => parseExposition(body, "text", lifted.options)),
            lifted.outcome,
          );
        }
      }
    });
  });

  describe("invalid in Go: rejected, on Go's line", () => {
    const cases = INVALID_CASES.filter((c) => c.id in REJECTIONS);
    it.each(cases.map((c) => [`${c.id}: ${c.title} (Go: ${c.error})`, c] as const))("%s", (_name, c) => {
      const rejection = REJECTIONS[c.id];
      if (rejection === undefined) throw new Error(`${c.id} has no expected rejection`);
      if ("utf8" in rejection) {
        if (typeof c.input === "string") throw new Error(`${c.id} should be bytes`);
        const bytes = Uint8Array.from(c.input.bytes);
        expectRejection(
          errorOf(() => parseExposition(utf8(bytes), "text", PUSH)),
          { name: "ParseError", message: rejection.utf8 },
        );
        return;
      }
      const error = errorOf(() => parseExposition(bodyOf(c), "text", PUSH));
      expectRejection(error, { name: "ParseError", message: new RegExp(`^line ${c.line}, column ${rejection.column}: `) });
      expect(error instanceof Error ? error.message : "").toMatch(rejection.message);
    });

    it("error-20 over RPC: the same label value as a string with a lone surrogate is a ParseError", () => {
      expectRejection(
        errorOf(() => parseExposition('metric{l="\ud800"} 3.14\n', "text", PUSH)),
        { name: "ParseError", message: /^line 1, column 11: lone UTF-16 surrogate U\+D800/ },
      );
    });
  });

  describe("invalid in Go, accepted here: documented differences", () => {
    const cases = INVALID_CASES.filter((c) => c.id in DIFFERENCES);
    it.each(cases.map((c) => [`${c.id}: ${DIFFERENCES[c.id]?.reason ?? ""}`, c] as const))("%s", (_name, c) => {
      const difference = DIFFERENCES[c.id];
      if (difference === undefined) throw new Error(`${c.id} is not a documented difference`);
      expect(samplesOf(parseExposition(bodyOf(c), "text", PUSH))).toEqual(sorted(difference.samples));
    });
  });

  it("comes to the documented counts", () => {
    const counts = { validExact: 0, byDesign: 0, invalidRejected: 0, documentedDifferences: 0 };
    for (const c of VALID_CASES) {
      const error = errorOf(() => parseExposition(c.input, "text", PUSH));
      if (error === undefined) {
        const families = parseExposition(c.input, "text", PUSH);
        const got = samplesOf(families);
        const expected = sorted([...c.samples, ...(ADDED_SAMPLES[c.id]?.samples ?? [])]);
        const exact = got.length === expected.length && got.every((x, i) => sameSample(x, expected[i] ?? x) && expected[i] !== undefined);
        expect(exact, `${c.id} parses, but not to Go's samples`).toBe(true);
        expect(c.id in BY_DESIGN, `${c.id} parses, but is listed as rejected by design`).toBe(false);
        counts.validExact++;
      } else {
        expect(error, `${c.id}: ${String(error)}`).toBeInstanceOf(GatewayError);
        expect(c.id in BY_DESIGN, `${c.id} is rejected (${String(error)}), but not listed as by design`).toBe(true);
        counts.byDesign++;
      }
    }
    for (const c of INVALID_CASES) {
      const error = errorOf(() => parseExposition(typeof c.input === "string" ? c.input : utf8(Uint8Array.from(c.input.bytes)), "text", PUSH));
      if (error === undefined) {
        expect(c.id in DIFFERENCES, `${c.id} is accepted, but not listed as a documented difference`).toBe(true);
        counts.documentedDifferences++;
      } else {
        expect(error instanceof GatewayError ? error.name : String(error), c.id).toBe("ParseError");
        counts.invalidRejected++;
      }
    }
    expect(counts).toEqual(EXPECTED_COUNTS);
  });
});
