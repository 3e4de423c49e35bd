/**
 * Push bodies for the gateway property tests: generated families as plain data, rendered as
 * Prometheus text 0.0.4 or OpenMetrics 1.0 the way a client library would write them (plus
 * deliberate damage: a parse error, a timestamp, a duplicate series).
 */
import { isLegacyLabelName, isLegacyMetricName } from "../../src/common/names";

/** A histogram series as pushed: bucket bounds and counts as written, `_sum` / `_count` when present. */
export interface HistogramSpec {
  bounds: number[];
  counts: number[];
  sum: number | undefined;
  count: number;
  /** Text format only: leave out the `le="+Inf"` bucket (the gateway takes it from `_count`). */
  omitInf: boolean;
}

export interface SummarySpec {
  quantiles: [q: number, value: number][];
  sum: number;
  count: number;
}

export interface SeriesSpec {
  labels: [name: string, value: string][];
  value: number | HistogramSpec | SummarySpec;
}

export type PushType = "counter" | "gauge" | "untyped" | "histogram" | "summary" | "gaugehistogram";

export interface FamilySpec {
  /** The stored name: an OpenMetrics counter is written as family `name` minus `_total`, samples `<base>_total`. */
  name: string;
  type: PushType;
  /** undefined: no HELP line. */
  help: string | undefined;
  /** OpenMetrics only: a `# UNIT` line. */
  unit: string | undefined;
  series: SeriesSpec[];
}

/** What spoils a body on purpose. */
export type Damage = "none" | "parse" | "timestamp" | "duplicate";

/** `\`, `"` and newline escaped, as both formats read label values and quoted names. */
function escapeValue(s: string): string {
  return s.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function escapeHelp(s: string, om: boolean): string {
  return s.replace(om ? /[\\"\n]/g : /[\\\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** A number as clients write it: Go float syntax, `+Inf`, `-Inf`, `NaN`. */
export function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Object.is(v, -0)) return "-0";
  return String(v);
}

/** A sample line: `name{labels} value` or `{"utf.name",labels} value`. */
function sample(name: string, labels: readonly (readonly [string, string])[], value: string): string {
  const pairs = labels.map(([n, v]) => `${isLegacyLabelName(n) ? n : `"${escapeValue(n)}"`}="${escapeValue(v)}"`);
  if (isLegacyMetricName(name)) return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${value}`;
  return `{${[`"${escapeValue(name)}"`, ...pairs].join(",")}} ${value}`;
}

function shown(name: string): string {
  return isLegacyMetricName(name) ? name : `"${escapeValue(name)}"`;
}

function isHistogram(v: SeriesSpec["value"]): v is HistogramSpec {
  return typeof v === "object" && "bounds" in v;
}

function isSummary(v: SeriesSpec["value"]): v is SummarySpec {
  return typeof v === "object" && "quantiles" in v;
}

/** One family's lines (each ending in `\n`). */
function renderFamily(f: FamilySpec, om: boolean): string[] {
  const counterBase = f.name.endsWith("_total") && f.name.length > 6 ? f.name.slice(0, -6) : f.name;
  const base = om && f.type === "counter" ? counterBase : f.name;
  const typeWord = f.type === "untyped" ? (om ? "unknown" : "untyped") : f.type;
  const lines: string[] = [];
  if (f.help !== undefined) lines.push(`# HELP ${shown(base)} ${escapeHelp(f.help, om)}`);
  lines.push(`# TYPE ${shown(base)} ${typeWord}`);
  if (om && f.unit !== undefined) lines.push(`# UNIT ${shown(base)} ${f.unit}`);
  for (const s of f.series) {
    const v = s.value;
    if (typeof v === "number") {
      lines.push(sample(om && f.type === "counter" ? `${counterBase}_total` : f.name, s.labels, num(v)));
    } else if (isHistogram(v)) {
      const gauge = f.type === "gaugehistogram";
      v.bounds.forEach((b, i) => {
        if (b === Infinity && v.omitInf && !om) return;
        lines.push(sample(`${base}_bucket`, [...s.labels, ["le", num(b)]], num(v.counts[i] ?? 0)));
      });
      if (v.sum !== undefined) lines.push(sample(`${base}${gauge ? "_gsum" : "_sum"}`, s.labels, num(v.sum)));
      lines.push(sample(`${base}${gauge ? "_gcount" : "_count"}`, s.labels, num(v.count)));
    } else if (isSummary(v)) {
      for (const [q, qv] of v.quantiles) lines.push(sample(base, [...s.labels, ["quantile", num(q)]], num(qv)));
      lines.push(sample(`${base}_sum`, s.labels, num(v.sum)));
      lines.push(sample(`${base}_count`, s.labels, num(v.count)));
    }
  }
  return lines;
}

/** The body of a push: the families in order, damaged as asked; OpenMetrics ends with `# EOF`. */
export function renderBody(families: readonly FamilySpec[], om: boolean, damage: Damage): string {
  const lines = families.flatMap((f) => renderFamily(f, om));
  const first = lines.findIndex((l) => !l.startsWith("#"));
  if (damage === "parse") lines.splice(Math.max(0, first), 0, "broken{ 1");
  else if (damage === "timestamp" && first >= 0) lines[first] += " 1700000000";
  else if (damage === "duplicate" && first >= 0) lines.splice(first, 0, lines[first] ?? "");
  if (om) lines.push("# EOF");
  return lines.map((l) => `${l}\n`).join("");
}
