/**
 * The operations the gateway property tests generate, as plain records (so fast-check shrinks them
 * and a counterexample prints as calls one can paste into a test), and their generators: small
 * pools of names that collide on purpose (after escaping, by suffix, by OpenMetrics `_total`),
 * label values that need escaping or break limits, and values at the edges of float64.
 */
import fc from "fast-check";
import { MAX_BUCKETS, MAX_HELP_CHARS, MAX_KEY_CHARS, MAX_LABEL_VALUE_CHARS, MAX_NAME_CHARS } from "../../src/common/limits";
import type { Damage, FamilySpec, HistogramSpec, PushType, SeriesSpec, SummarySpec } from "./bodies";

export type Labels = Record<string, string>;

export type Op =
  | { op: "inc"; name: string; labels: Labels; value: number | undefined }
  | { op: "set"; name: string; labels: Labels; value: number }
  | { op: "observe"; name: string; labels: Labels; value: number; buckets: number[] | undefined }
  | { op: "push"; families: FamilySpec[]; om: boolean; damage: Damage; group: Labels | undefined; mode: "aggregate" | "replace"; via: "rpc" | "http" }
  | { op: "delete"; name: string; labels: Labels | undefined }
  | { op: "deleteGroup"; group: Labels; via: "rpc" | "http" }
  | { op: "deleteAll" }
  | { op: "restart" }
  | { op: "scrape" };

// ---- printing ------------------------------------------------------------------------------------

/** A string as JS source, long runs of one character as `"v".repeat(n)`. */
export function str(s: string): string {
  const m = /^(.)\1{63,}$/su.exec(s);
  if (m !== null) return `${JSON.stringify(m[1])}.repeat(${s.length})`;
  if (s.length > 200) return `${JSON.stringify(s.slice(0, 60))} + ... (${s.length} chars)`;
  // JSON.stringify writes lone surrogates as \udxxx escapes: exactly what the string holds.
  return JSON.stringify(s);
}

function num(v: number | undefined): string {
  if (v === undefined) return "undefined";
  if (Object.is(v, -0)) return "-0";
  return Number.isNaN(v) ? "NaN" : v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : String(v);
}

function labels(l: Labels | undefined): string {
  if (l === undefined) return "undefined";
  return `{ ${Object.entries(l)
    .map(([k, v]) => `${str(k)}: ${str(v)}`)
    .join(", ")} }`;
}

function buckets(b: number[] | undefined): string {
  if (b === undefined) return "undefined";
  if (b.length > 8) return `[${b.slice(0, 3).map(num).join(", ")}, ... ${b.length} bounds]`;
  return `[${b.map(num).join(", ")}]`;
}

function value(v: SeriesSpec["value"]): string {
  if (typeof v === "number") return num(v);
  if ("bounds" in v) return `{ bounds: ${buckets(v.bounds)}, counts: ${buckets(v.counts)}, sum: ${num(v.sum)}, count: ${num(v.count)}${v.omitInf ? ", omitInf" : ""} }`;
  return `{ quantiles: [${v.quantiles.map(([q, x]) => `[${num(q)}, ${num(x)}]`).join(", ")}], sum: ${num(v.sum)}, count: ${num(v.count)} }`;
}

function family(f: FamilySpec): string {
  const series = f.series.map((s) => `[${labels(Object.fromEntries(s.labels))}, ${value(s.value)}]`).join(", ");
  const extra = `${f.help === undefined ? "" : `, help: ${str(f.help)}`}${f.unit === undefined ? "" : `, unit: ${str(f.unit)}`}`;
  return `{ ${str(f.name)} ${f.type}${extra}: ${series} }`;
}

/** An operation as one line of pseudo-JS: what a counterexample report shows. */
export function describeOp(op: Op): string {
  switch (op.op) {
    case "inc":
      return `inc(${str(op.name)}, ${labels(op.labels)}, ${num(op.value)})`;
    case "set":
      return `set(${str(op.name)}, ${labels(op.labels)}, ${num(op.value)})`;
    case "observe":
      return `observe(${str(op.name)}, ${labels(op.labels)}, ${num(op.value)}, ${buckets(op.buckets)})`;
    case "push": {
      const how = op.via === "http" ? `HTTP ${op.group === undefined ? "POST /metrics" : `${op.mode === "replace" ? "PUT" : "POST"} group ${labels(op.group)}`}` : `push(group: ${labels(op.group)}, mode: ${op.mode})`;
      return `${how} ${op.om ? "openmetrics" : "text"}${op.damage === "none" ? "" : ` damaged:${op.damage}`} [${op.families.map(family).join(", ")}]`;
    }
    case "delete":
      return `delete(${str(op.name)}, ${labels(op.labels)})`;
    case "deleteGroup":
      return `${op.via === "http" ? "HTTP DELETE group" : "deleteGroup"}(${labels(op.group)})`;
    case "deleteAll":
      return `delete("__all")`;
    case "restart":
      return "abortAllDurableObjects()";
    case "scrape":
      return "scrape()";
  }
}

/** Attaches fast-check's printer, so a counterexample prints as {@link describeOp} (shrinking is unaffected). */
function printable(op: Op): Op {
  Object.defineProperty(op, fc.toStringMethod, { value: () => describeOp(op), enumerable: false });
  return op;
}

// ---- pools ---------------------------------------------------------------------------------------

/**
 * Metric names: legacy ones that collide by suffix (`rq` histogram vs `rq_count`; counter `foo`
 * vs `foo_total`), UTF-8 ones that collide once escaped (`a.b` / `a_b`, `rq.count` / `rq_count`,
 * `push.time.seconds` / the reserved `push_time_seconds`), and invalid or over-long ones. Most
 * writes go to a few core names, so that families meet (types, groups, escaping) in a sequence.
 */
const CORE_METRIC_NAMES = ["a", "a.b", "rq", "rq_count", "foo", "foo_total"];
const METRIC_NAMES = ["a_b", "lat_seconds", "k8s.pod", "ünï", "😀 x", "x:y", 'q"u\\o'];
const ODD_METRIC_NAMES = [
  "rq.count", "_total", "a-b", "push.time.seconds", "push_time_seconds", "metrics_gateway_x", "__all", "", "a\ud800",
  "n".repeat(MAX_NAME_CHARS), "n".repeat(MAX_NAME_CHARS + 1),
];
export const metricName = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...CORE_METRIC_NAMES) },
  { weight: 6, arbitrary: fc.constantFrom(...METRIC_NAMES) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD_METRIC_NAMES) },
);

/** Label names: `k8s.pod` / `k8s_pod` and `a.b` / `a_b` escape alike; `le`, `quantile` are the buckets' own; `__x` is reserved. */
const LABEL_NAMES = ["a", "b", "job", "instance", "k8s.pod", "k8s_pod", "a.b", "ü"];
const ODD_LABEL_NAMES = ["a_b", "le", "quantile", "__x", "..name__", "a:b", "", "x\ud800", "l".repeat(MAX_NAME_CHARS + 1)];
/** `odds` in one: how often a name, or value, is an odd one. */
const labelName = (odds: number) => fc.oneof({ weight: odds - 1, arbitrary: fc.constantFrom(...LABEL_NAMES) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_LABEL_NAMES) });

/**
 * Label values: what needs escaping, what looks like exposition syntax (a whole `# HELP` line),
 * lone surrogates (InvalidValue), and lengths at and over MAX_LABEL_VALUE_CHARS; two values of the
 * limit make a label set over MAX_KEY_CHARS.
 */
const LABEL_VALUES = ["", "x", "y", "1", "\\", '"', "\n", "a\\nb", "}", ",", "=", "ü", "😀"];
const ODD_LABEL_VALUES = ["# HELP metrics_gateway_x 1", "\0", "\r\t", " ", "\ud800", "a\udc00b", "v".repeat(MAX_LABEL_VALUE_CHARS), "v".repeat(MAX_LABEL_VALUE_CHARS + 1)];
const labelValue = (odds: number) => fc.oneof({ weight: odds - 1, arbitrary: fc.constantFrom(...LABEL_VALUES) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_LABEL_VALUES) });

/**
 * Label pairs, each name once (a name twice in a body is the parser's business, tested on its own).
 * An RPC write has one label set, a push several: odd names and values are rarer in pushes, so
 * that most pushes get through and build up state.
 */
const labelPairs = (odds: number) => fc.uniqueArray(fc.tuple(labelName(odds), labelValue(odds)), { maxLength: 3, selector: ([name]) => name });
/** Two values at MAX_LABEL_VALUE_CHARS: a label set over MAX_KEY_CHARS (LimitExceeded). */
const OVER_KEY: Labels = { a: "v".repeat(MAX_KEY_CHARS / 2), b: "w".repeat(MAX_KEY_CHARS / 2) };
const labelSet: fc.Arbitrary<Labels> = fc.oneof(
  { weight: 30, arbitrary: labelPairs(20).map((pairs) => Object.fromEntries(pairs)) },
  { weight: 1, arbitrary: fc.constant(OVER_KEY) },
);

/** Pushgateway grouping keys: a few, so groups meet; one without `job` (HTTP needs it), one with a lone surrogate. */
const GROUPS: Labels[] = [{ job: "j1" }, { job: "j2" }, { job: "j1", instance: "i/1" }, { job: "j2", "k8s.pod": "p" }, { job: "j1", a: "x" }];
const ODD_GROUPS: Labels[] = [{}, { instance: "i" }, { job: "" }, { job: "j\ud800" }, { job: "j1", k8s_pod: "p" }];
const group = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...GROUPS) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_GROUPS) });

// ---- values --------------------------------------------------------------------------------------

/**
 * Values whose sums are exact in any order (small integers and binary fractions), so that parts
 * added on several shards equal the sum on one: the comparison across SHARDS is exact.
 */
const exact = fc.oneof(fc.integer({ min: -5, max: 20 }), fc.constantFrom(0.5, 0.25, -0.5, 1.75, 0.125));
const exactNonNegative = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(0.5, 0.25, 1.75, 0.125));

/**
 * Counter increments. Besides exact values: 1e308 (two make +Inf, in any order), 5e-324 (absorbed
 * by any of the others, in any order), -0; and what must be rejected: negatives, NaN, ±Inf.
 */
const incValue = fc.oneof(
  { weight: 8, arbitrary: exactNonNegative },
  { weight: 2, arbitrary: fc.constantFrom(1e308, 5e-324, -0) },
  { weight: 2, arbitrary: fc.constantFrom(-1, -0.5, NaN, Infinity, -Infinity) },
);

/** Gauge values: replaced, never added, so anything goes. */
const gaugeValue = fc.oneof(exact, fc.constantFrom(NaN, Infinity, -Infinity, -0, 5e-324, -5e-324, 1e308, -1e308, 0.1, 1e-300));

/** Untyped values are added like counters but may be negative: exact values and the non-finite ones. */
const untypedValue = fc.oneof({ weight: 8, arbitrary: exact }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -0) });

/** Observations: exact values (negative too), ±Inf, -0, and NaN (rejected). */
const observation = fc.oneof({ weight: 8, arbitrary: exact }, { weight: 1, arbitrary: fc.constantFrom(Infinity, -Infinity, -0, NaN) });

/** `observe` bucket layouts: prom-client's default, a few others, invalid ones and ones at MAX_BUCKETS. */
const observeBuckets = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<(number[] | undefined)[]>(undefined, [1], [0.5, 1, 2], [-1, 0, 1], [1, Infinity]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<number[]>(
      [],
      [2, 1],
      [NaN],
      Array.from({ length: MAX_BUCKETS - 1 }, (_, i) => i + 1),
      Array.from({ length: MAX_BUCKETS }, (_, i) => i + 1),
    ),
  },
);

// ---- pushed families -----------------------------------------------------------------------------

const HISTOGRAM_LAYOUTS = [[0.5, 1, 2, Infinity], [1, Infinity], [Infinity], [-1, 0, 1, Infinity], [0.25, 0.5, Infinity]];

const histogramSpec: fc.Arbitrary<HistogramSpec> = fc
  .record({
    bounds: fc.constantFrom(...HISTOGRAM_LAYOUTS),
    increments: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 5, maxLength: 5 }),
    sum: fc.oneof({ weight: 12, arbitrary: exactNonNegative }, { weight: 2, arbitrary: exact }, { weight: 1, arbitrary: fc.constantFrom<number | undefined>(undefined, NaN, Infinity) }),
    countOff: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 0.5) }),
    omitInf: fc.boolean(),
    decreasing: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  })
  .map(({ bounds, increments, sum, countOff, omitInf, decreasing }) => {
    const counts: number[] = [];
    let total = 0;
    for (let i = 0; i < bounds.length; i++) counts.push((total += increments[i] ?? 0));
    // Now and then bucket counts that go down: invalid OpenMetrics, what text parsers let through.
    if (decreasing && counts.length > 1) counts[0] = (counts[counts.length - 1] ?? 0) + 1;
    return { bounds, counts, sum, count: total + countOff, omitInf };
  });

const QUANTILES = [0, 0.5, 0.9, 1];
const summarySpec: fc.Arbitrary<SummarySpec> = fc.record({
  quantiles: fc.uniqueArray(
    fc.tuple(
      fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...QUANTILES) }, { weight: 1, arbitrary: fc.constantFrom(1.5, -0.1) }),
      fc.oneof({ weight: 6, arbitrary: exactNonNegative }, { weight: 1, arbitrary: gaugeValue }),
    ),
    {
      selector: ([q]) => q,
      maxLength: 3,
    },
  ),
  sum: fc.oneof({ weight: 12, arbitrary: exactNonNegative }, { weight: 2, arbitrary: exact }, { weight: 1, arbitrary: fc.constantFrom(NaN) }),
  count: fc.oneof({ weight: 15, arbitrary: fc.integer({ min: 0, max: 20 }) }, { weight: 1, arbitrary: fc.constantFrom(0.5, -1) }),
});

const PUSH_TYPES: PushType[] = ["counter", "gauge", "untyped", "histogram", "summary"];
const pushType = fc.oneof({ weight: 40, arbitrary: fc.constantFrom(...PUSH_TYPES) }, { weight: 1, arbitrary: fc.constant<PushType>("gaugehistogram") });

function seriesValue(type: PushType): fc.Arbitrary<SeriesSpec["value"]> {
  switch (type) {
    case "counter":
      return incValue;
    case "gauge":
      return gaugeValue;
    case "untyped":
      return untypedValue;
    case "histogram":
    case "gaugehistogram":
      return histogramSpec;
    case "summary":
      return summarySpec;
  }
}

const HELPS = [undefined, undefined, "", "Help.", "Other help.", 'back\\slash "quoted"\nnewline'];
const helpText = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...HELPS) },
  { weight: 1, arbitrary: fc.constantFrom("h".repeat(MAX_HELP_CHARS), "h".repeat(MAX_HELP_CHARS + 1)) },
);

const familySpec: fc.Arbitrary<FamilySpec> = fc.tuple(metricName, pushType).chain(([name, type]) =>
  fc.record({
    name: fc.constant(name),
    type: fc.constant(type),
    help: helpText,
    // OpenMetrics: the unit the name ends with (as the format requires), or now and then one it does not.
    unit: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: fc.constant(/_([a-z]+)$/.exec(name)?.[1]) }, { weight: 1, arbitrary: fc.constant("bytes") }),
    // A family without series is a HELP/TYPE announcement alone; each series' label set once.
    series: fc.uniqueArray(fc.record({ labels: labelPairs(80), value: seriesValue(type) }), {
      minLength: 0,
      maxLength: 3,
      selector: (s) => JSON.stringify(s.labels.filter(([, v]) => v !== "").sort(([a], [b]) => (a < b ? -1 : 1))),
    }),
  }),
);

const damage = fc.oneof({ weight: 20, arbitrary: fc.constant<Damage>("none") }, { weight: 1, arbitrary: fc.constantFrom<Damage>("parse", "timestamp", "duplicate") });

// ---- operations ----------------------------------------------------------------------------------

const incOp = fc.record({ op: fc.constant("inc" as const), name: metricName, labels: labelSet, value: fc.option(incValue, { nil: undefined, freq: 4 }) });
const setOp = fc.record({ op: fc.constant("set" as const), name: metricName, labels: labelSet, value: gaugeValue });
const observeOp = fc.record({ op: fc.constant("observe" as const), name: metricName, labels: labelSet, value: observation, buckets: observeBuckets });
const pushOp = fc.record({
  op: fc.constant("push" as const),
  families: fc.uniqueArray(familySpec, { minLength: 1, maxLength: 3, selector: (f) => f.name }),
  om: fc.boolean(),
  damage,
  group: fc.option(group, { nil: undefined, freq: 2 }),
  mode: fc.constantFrom("aggregate" as const, "replace" as const),
  via: fc.constantFrom("rpc" as const, "http" as const),
});
const deleteOp = fc.record({ op: fc.constant("delete" as const), name: metricName, labels: fc.option(labelSet, { nil: undefined }) });
const deleteGroupOp = fc.record({ op: fc.constant("deleteGroup" as const), group, via: fc.constantFrom("rpc" as const, "http" as const) });

/** One operation; `restart` (abortAllDurableObjects) only where asked for. */
export function operation(restarts: boolean): fc.Arbitrary<Op> {
  const kinds: fc.WeightedArbitrary<Op>[] = [
    // First, so that shrinking turns the operations a failure does not need into harmless reads.
    { weight: 1, arbitrary: fc.constant<Op>({ op: "scrape" }) },
    { weight: 3, arbitrary: incOp },
    { weight: 3, arbitrary: setOp },
    { weight: 2, arbitrary: observeOp },
    { weight: 6, arbitrary: pushOp },
    { weight: 1, arbitrary: deleteOp },
    { weight: 1, arbitrary: deleteGroupOp },
    { weight: 1, arbitrary: fc.constant<Op>({ op: "deleteAll" }) },
  ];
  if (restarts) kinds.push({ weight: 1, arbitrary: fc.constant<Op>({ op: "restart" }) });
  return fc.oneof(...kinds).map((op) => printable({ ...op }));
}

/** Generates with one arbitrary and shrinks with another (of the same values and contexts). */
class ShrinkWith<T> extends fc.Arbitrary<T> {
  readonly #generate: fc.Arbitrary<T>;
  readonly #shrink: fc.Arbitrary<T>;

  constructor(generate: fc.Arbitrary<T>, shrink: fc.Arbitrary<T>) {
    super();
    this.#generate = generate;
    this.#shrink = shrink;
  }

  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<T> {
    return this.#generate.generate(mrng, biasFactor);
  }

  canShrinkWithoutContext(value: unknown): value is T {
    return this.#shrink.canShrinkWithoutContext(value);
  }

  shrink(value: T, context: unknown): fc.Stream<fc.Value<T>> {
    return this.#shrink.shrink(value, context);
  }
}

/**
 * Sequences of `min`..`max` operations, lengths spread over the whole range; a failing one shrinks
 * down to a single operation if that is all it takes.
 */
export function operations(min: number, max: number, restarts: boolean): fc.Arbitrary<Op[]> {
  const op = operation(restarts);
  return new ShrinkWith(fc.array(op, { minLength: min, maxLength: max, size: "max" }), fc.array(op, { minLength: 1, maxLength: max, size: "max" }));
}

