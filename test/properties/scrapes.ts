/**
 * Scrapes for the gateway property tests: every format and escaping, the user's families cut out
 * of them (line by line, so no label value can fool the cut), and the check that each one parses
 * with the gateway's own parser and holds exactly the series of the text scrape, names escaped as
 * the scheme says and only the series OpenMetrics cannot carry left out (and counted).
 */
import { parseLabelKey } from "../../src/common/labels";
import type { Family } from "../../src/common/model";
import { type EscapingScheme, escapeLabelName, escapeMetricName } from "../../src/wire/exposition/escaping";
import { parseExposition } from "../../src/wire/exposition/parse";
import type Gateway from "../../src/worker/entrypoint";

export interface Variant {
  format: "text" | "openmetrics";
  escaping: EscapingScheme;
}

/** Every format and escaping; the first (text, UTF-8 names quoted) is the reference. */
export const VARIANTS: readonly Variant[] = (["text", "openmetrics"] as const).flatMap((format) =>
  (["allow-utf-8", "underscores", "dots", "values"] as const).map((escaping) => ({ format, escaping })),
);

export function variantName(v: Variant): string {
  return `${v.format}/${v.escaping}`;
}

/** A whole scrape (user families plus the gateway's own metrics) per variant. */
export type Scrapes = Map<string, string>;

export async function scrapeAll(g: Gateway, variants: readonly Variant[] = VARIANTS): Promise<Scrapes> {
  const out: Scrapes = new Map();
  for (const v of variants) out.set(variantName(v), await g.scrape({ format: v.format, escaping: v.escaping }));
  return out;
}

/**
 * The user's families of a scrape: every block from a `# HELP` line to the next, less the
 * gateway's own (`metrics_gateway_*`) and `# EOF`. The gateway writes HELP first for every family
 * and escapes newlines in HELP and label values, so a line starting `# HELP ` starts a family.
 * (test/helpers.ts's `withoutSelfMetrics` cuts at "# HELP " anywhere in a line, which a label
 * value can hold.)
 */
export function userPart(scrape: string): string {
  let out = "";
  let keep = true;
  for (const line of scrape.split("\n")) {
    if (line === "" || line === "# EOF") continue;
    if (line.startsWith("# HELP ")) keep = !line.startsWith("# HELP metrics_gateway_");
    if (keep) out += `${line}\n`;
  }
  return out;
}

/** The gateway's own sample lines of a scrape. */
export function selfLines(scrape: string): string[] {
  return scrape.split("\n").filter((l) => l.startsWith("metrics_gateway_"));
}

/**
 * Sample values of the per-group push time gauges masked: any time becomes `T`; `0` (never) stays
 * unless `zero` says to mask it too.
 */
export function maskPushTimes(user: string, names: readonly string[] = ["push_time_seconds", "push_failure_time_seconds"], zero = false): string {
  return user
    .split("\n")
    .map((line) => {
      const name = names.find((n) => line.startsWith(`${n}{`) || line.startsWith(`${n} `));
      if (name === undefined) return line;
      const at = line.lastIndexOf(" ");
      const v = line.slice(at + 1);
      return v === "0" && !zero ? line : `${line.slice(0, at)} T`;
    })
    .join("\n");
}

// ---- parsing back --------------------------------------------------------------------------------

type Value = number | { a: number[]; b: number[]; sum: number | undefined; count: number | undefined };

/** A parsed family: type, help, and series by label identity. */
interface Parsed {
  type: string;
  help: string;
  series: Map<string, Value>;
}

function valueOf(f: Family, i: number): Value {
  if (f.type === "histogram") {
    const h = f.values[i];
    return { a: h?.bounds ?? [], b: h?.counts ?? [], sum: h?.sum, count: h?.count };
  }
  if (f.type === "summary") {
    const s = f.values[i];
    return { a: s?.quantiles ?? [], b: s?.values ?? [], sum: s?.sum, count: s?.count };
  }
  return f.values[i] ?? NaN;
}

/** A label set's identity: its pairs with names escaped by `scheme`, sorted by name, as JSON. */
function identity(pairs: readonly (readonly [string, string])[], scheme: EscapingScheme): string {
  const out = pairs.map(([name, value]) => [escapeLabelName(name, scheme), value] as const);
  out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(out);
}

/** A parsed series' label pairs (from its canonical key). */
function pairsOf(key: string): [string, string][] {
  const flat = parseLabelKey(key);
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] ?? "", flat[i + 1] ?? ""]);
  return out;
}

function same(a: number | undefined, b: number | undefined): boolean {
  return Object.is(a, b);
}

function sameValue(a: Value, b: Value): boolean {
  if (typeof a === "number" || typeof b === "number") return typeof a === "number" && typeof b === "number" && same(a, b);
  return same(a.sum, b.sum) && same(a.count, b.count) && a.a.length === b.a.length && a.a.every((x, i) => same(x, b.a[i])) && a.b.length === b.b.length && a.b.every((x, i) => same(x, b.b[i]));
}

function show(v: Value | undefined): string {
  if (v === undefined) return "absent";
  if (typeof v === "number") return String(Object.is(v, -0) ? "-0" : v);
  return `{${v.a.join(",")} | ${v.b.join(",")} | sum ${String(v.sum)} | count ${String(v.count)}}`;
}

/**
 * Why OpenMetrics 1.0 cannot carry a series, as its spec and parsers have it (counters and
 * counts never NaN or negative, counts integers, histogram bounds increasing to `+Inf` with
 * counts non-decreasing up to `_count`, no negative bound beside a `_sum`, quantiles in [0, 1]
 * with values not negative); undefined when it can.
 */
function openMetricsCannotCarry(type: string, v: Value): string | undefined {
  const counterLike = (x: number | undefined, count: boolean) => x === undefined || Number.isNaN(x) || x < 0 || (count && !Number.isInteger(x));
  if (typeof v === "number") return type === "counter" && !(v >= 0) ? "counter value" : undefined;
  if (type === "histogram") {
    const n = v.a.length;
    if (n === 0 || v.a[n - 1] !== Infinity) return "no +Inf bucket";
    if (v.a.some((b, i) => Number.isNaN(b) || (i > 0 && b <= (v.a[i - 1] ?? NaN)))) return "bounds";
    if (v.a.some((b) => b < 0)) return "negative bound with _sum";
    if (counterLike(v.sum, false) || counterLike(v.count, true) || v.b.some((c) => counterLike(c, true))) return "counts";
    if (v.b.some((c, i) => i > 0 && c < (v.b[i - 1] ?? 0)) || v.count !== v.b[n - 1]) return "decreasing counts";
    return undefined;
  }
  if (v.a.some((q) => !(q >= 0 && q <= 1))) return "quantile";
  if (counterLike(v.sum, false) || counterLike(v.count, true)) return "sum/count";
  if (v.b.some((x) => x < 0)) return "negative quantile value";
  return undefined;
}

/** Families by name; a family parsed twice (merged by the text parser) is noted in `problems`. */
function parse(user: string, v: Variant, problems: string[]): Map<string, Parsed> | undefined {
  const where = variantName(v);
  // The text parser merges a family's lines wherever they are: a family written twice is found here.
  const typed = new Set<string>();
  for (const line of user.split("\n")) {
    if (!line.startsWith("# TYPE ")) continue;
    const name = line.slice(7, line.lastIndexOf(" "));
    if (typed.has(name)) problems.push(`${where}: family ${name} written twice`);
    typed.add(name);
  }
  let families: Family[];
  try {
    families = parseExposition(v.format === "openmetrics" ? `${user}# EOF\n` : user, v.format, { allowTimestamps: false, rejectUnsupported: true });
  } catch (error) {
    problems.push(`${where}: does not parse: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return undefined;
  }
  const out = new Map<string, Parsed>();
  for (const f of families) {
    if (out.has(f.name)) problems.push(`${where}: family ${f.name} parsed twice`);
    const series = new Map<string, Value>();
    f.keys.forEach((key, i) => {
      const id = identity(pairsOf(key), "allow-utf-8");
      if (series.has(id)) problems.push(`${where}: series ${f.name}${id} twice`);
      series.set(id, valueOf(f, i));
    });
    out.set(f.name, { type: f.type, help: f.help, series });
  }
  return out;
}

/** The sum of `metrics_gateway_scrape_omitted_series`, and `metrics_gateway_series`. */
function selfCounts(scrape: string): { omitted: number; series: number } {
  let omitted = 0;
  let series = NaN;
  for (const line of selfLines(scrape)) {
    if (line.startsWith("metrics_gateway_scrape_omitted_series")) omitted += Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.startsWith("metrics_gateway_series ")) series = Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return { omitted, series };
}

const PUSH_TIMES = new Set(["push_time_seconds", "push_failure_time_seconds"]);

/**
 * Every problem with one state's scrapes: a scrape that does not parse, a family or series written
 * twice, a series of the text scrape missing from (or different in) another format or escaping
 * other than those OpenMetrics cannot carry, omissions the gateway's own count does not match,
 * and a stored-series count that is not the series the text scrape holds. Empty when all is well.
 */
export function scrapeProblems(scrapes: Scrapes): string[] {
  const problems: string[] = [];
  const reference = VARIANTS[0];
  const refScrape = reference === undefined ? undefined : scrapes.get(variantName(reference));
  if (reference === undefined || refScrape === undefined) return ["no reference scrape"];
  const ref = parse(userPart(refScrape), reference, problems);
  if (ref === undefined) return problems;
  let stored = 0;
  for (const [name, f] of ref) if (!PUSH_TIMES.has(name)) stored += f.series.size;
  const counts = selfCounts(refScrape);
  if (counts.series !== stored) problems.push(`text: metrics_gateway_series is ${counts.series}, the scrape holds ${stored} series`);

  for (const v of VARIANTS.slice(1)) {
    const scrape = scrapes.get(variantName(v));
    if (scrape === undefined) continue;
    const where = variantName(v);
    const got = parse(userPart(scrape), v, problems);
    if (got === undefined) continue;
    const om = v.format === "openmetrics";
    let omitted = 0;
    const expectedNames = new Set<string>();
    for (const [name, f] of ref) {
      let exposed = escapeMetricName(name, v.escaping);
      if (om && f.type === "counter") exposed = `${exposed.endsWith("_total") && exposed.length > 6 ? exposed.slice(0, -6) : exposed}_total`;
      expectedNames.add(exposed);
      const g = got.get(exposed);
      if (g === undefined) {
        problems.push(`${where}: family ${name} (as ${exposed}) missing`);
        continue;
      }
      if (g.type !== f.type || g.help !== f.help) problems.push(`${where}: family ${exposed}: ${g.type} ${JSON.stringify(g.help)}, text has ${f.type} ${JSON.stringify(f.help)}`);
      const seen = new Set<string>();
      for (const [id, value] of f.series) {
        const pairs = JSON.parse(id) as [string, string][];
        const key = identity(pairs, v.escaping);
        seen.add(key);
        const other = g.series.get(key);
        // A label name an escaping writes with a leading "__" (Prometheus's own) is left out in that escaping.
        const reserved = pairs.some(([n]) => {
          const e = escapeLabelName(n, v.escaping);
          return e !== n && e.startsWith("__");
        });
        const reason = reserved ? "escaped_reserved_label" : om ? openMetricsCannotCarry(f.type, value) : undefined;
        if (reason !== undefined) {
          omitted++;
          if (other !== undefined) problems.push(`${where}: ${exposed}${key} = ${show(other)} is written although this format cannot carry it (${reason})`);
        } else if (other === undefined || !sameValue(other, value)) {
          problems.push(`${where}: ${exposed}${key} is ${show(other)}, text has ${show(value)}`);
        }
      }
      for (const key of g.series.keys()) if (!seen.has(key)) problems.push(`${where}: ${exposed}${key} is not in the text scrape`);
    }
    for (const name of got.keys()) if (!expectedNames.has(name)) problems.push(`${where}: family ${name} is not in the text scrape`);
    const c = selfCounts(scrape);
    if (c.omitted !== omitted) problems.push(`${where}: metrics_gateway_scrape_omitted_series adds up to ${c.omitted}, expected ${omitted}`);
  }
  return problems;
}
