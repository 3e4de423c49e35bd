/** Renders stored families as Prometheus text 0.0.4 or OpenMetrics 1.0 exposition. */
import type { MetricType } from "../../common/model";
import { isLegacyMetricName } from "../../common/names";
import { escapeHelp, escapeLabelValue } from "./escape";

/** A series' stored value: a number for counters, gauges and untyped; packed arrays otherwise. */
export type SeriesValue = number | Float64Array;

/** What the renderer needs of a family: its metadata and its series in output order. */
export interface FamilyView {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly unit: string;
  /** `[labelKey, value]` pairs, already in output order. */
  readonly series: Iterable<readonly [string, SeriesValue]>;
}

export const TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/**
 * A float as the exposition formats write it: Go-compatible decimal or exponent form,
 * `NaN`, `+Inf`, `-Inf`.
 */
export function formatFloat(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

/**
 * One family as exposition text, HELP and TYPE lines first, each line ending in `\n`.
 * Histograms are packed `[sum, count, bound0..boundN, count0..countN]` (cumulative counts);
 * summaries `[sum, count, q0..qN, value0..valueN]`.
 */
export function renderFamily(family: FamilyView, openmetrics: boolean): string {
  return renderHeader(family, openmetrics) + renderSeries(family, openmetrics);
}

/** OpenMetrics names a counter family without `_total` and its samples with it. */
function names(family: Pick<FamilyView, "name" | "type">, openmetrics: boolean): { base: string; sample: string } {
  if (!openmetrics || family.type !== "counter") return { base: family.name, sample: family.name };
  const base = family.name.endsWith("_total") ? family.name.slice(0, -6) : family.name;
  return { base, sample: `${base}_total` };
}

/** The HELP, TYPE (and in OpenMetrics, UNIT) lines of a family. */
export function renderHeader(family: Omit<FamilyView, "series">, openmetrics: boolean): string {
  const { base } = names(family, openmetrics);
  const typeWord = openmetrics && family.type === "untyped" ? "unknown" : family.type;
  const quoted = isLegacyMetricName(base) ? base : `"${escapeLabelValue(base)}"`;
  let out = `# HELP ${quoted} ${escapeHelp(family.help, openmetrics)}\n# TYPE ${quoted} ${typeWord}\n`;
  if (openmetrics && family.unit !== "") out += `# UNIT ${quoted} ${family.unit}\n`;
  return out;
}

/** The sample lines of a family's series, in the order given. */
export function renderSeries(family: FamilyView, openmetrics: boolean): string {
  const { type } = family;
  const { base, sample } = names(family, openmetrics);
  let out = "";
  if (type === "histogram" || type === "summary") {
    const bucket = sampleStart(`${base}_bucket`);
    const sum = sampleStart(`${base}_sum`);
    const count = sampleStart(`${base}_count`);
    const quantile = sampleStart(base);
    const extra = type === "histogram" ? "le" : "quantile";
    for (const [key, value] of family.series) {
      if (typeof value === "number") continue;
      const n = (value.length - 2) >> 1;
      const prefix = type === "histogram" ? bucket : quantile;
      for (let i = 0; i < n; i++) {
        const at = formatFloat(value[2 + i] ?? NaN);
        out += `${prefix.open}${prefix.sep(key)}${key}${key === "" && !prefix.quoted ? "" : ","}${extra}="${at}"} ${formatFloat(value[2 + n + i] ?? NaN)}\n`;
      }
      out += `${line(sum, key)} ${formatFloat(value[0] ?? NaN)}\n`;
      out += `${line(count, key)} ${formatFloat(value[1] ?? NaN)}\n`;
    }
  } else {
    const start = sampleStart(sample);
    for (const [key, value] of family.series) {
      if (typeof value !== "number") continue;
      out += `${line(start, key)} ${formatFloat(value)}\n`;
    }
  }
  return out;
}

interface SampleStart {
  /** `name{` or `{"name"` */
  open: string;
  quoted: boolean;
  sep(key: string): string;
}

function sampleStart(name: string): SampleStart {
  if (isLegacyMetricName(name)) return { open: `${name}{`, quoted: false, sep: () => "" };
  return { open: `{"${escapeLabelValue(name)}"`, quoted: true, sep: (key) => (key === "" ? "" : ",") };
}

/** A sample's name and labels: `name`, `name{a="b"}`, `{"my.name"}` or `{"my.name",a="b"}`. */
function line(start: SampleStart, key: string): string {
  if (start.quoted) return `${start.open}${start.sep(key)}${key}}`;
  if (key === "") return start.open.slice(0, -1);
  return `${start.open}${key}}`;
}
