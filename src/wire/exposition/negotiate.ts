/**
 * Content negotiation for a scrape: the exposition format, how names are escaped, and the
 * Content-Type that says so, from the `Accept` header and the `format` / `escaping` query parameters.
 */
import { GatewayError } from "../../common/errors";
import { type EscapingScheme, isEscapingScheme } from "./escaping";

/** The two exposition formats the gateway writes. */
export type ExpositionFormat = "text" | "openmetrics";

/** What to send a scraper. */
export interface Negotiation {
  readonly format: ExpositionFormat;
  readonly escaping: EscapingScheme;
  /** The response's Content-Type, in client_golang's form (`<type>; version=<v>; charset=utf-8; escaping=<scheme>`). */
  readonly contentType: string;
}

/** A representation the gateway can send: a media type at one version. */
interface Representation {
  readonly format: ExpositionFormat;
  readonly type: string;
  readonly subtype: string;
  readonly version: string;
}

// Text 1.0.0 is the text format that may hold quoted UTF-8 names (Prometheus 3 asks for it as
// `text/plain;version=1.0.0;escaping=...`); escaped, its body is plain 0.0.4.
const TEXT_0_0_4: Representation = { format: "text", type: "text", subtype: "plain", version: "0.0.4" };
const TEXT_1_0_0: Representation = { format: "text", type: "text", subtype: "plain", version: "1.0.0" };
const OPENMETRICS_1_0_0: Representation = { format: "openmetrics", type: "application", subtype: "openmetrics-text", version: "1.0.0" };
const OPENMETRICS_0_0_1: Representation = { format: "openmetrics", type: "application", subtype: "openmetrics-text", version: "0.0.1" };

/** Per format, what may be sent, preferred first when the Accept header ranks them equally. */
const CANDIDATES: Record<ExpositionFormat, readonly Representation[]> = {
  text: [TEXT_0_0_4, TEXT_1_0_0],
  openmetrics: [OPENMETRICS_1_0_0, OPENMETRICS_0_0_1],
};

/**
 * The version a range without `version=` stands for, as client_golang's `expfmt` reads it: text
 * 0.0.4, OpenMetrics 0.0.1.
 */
function defaultVersion(type: string, subtype: string): string | undefined {
  if (type === "text" && subtype === "plain") return "0.0.4";
  if (type === "application" && subtype === "openmetrics-text") return "0.0.1";
  return undefined;
}

/**
 * Decides what a scrape gets. The rules (client_golang's `expfmt.NegotiateIncludingOpenMetrics`,
 * with the gateway's preference for text):
 *
 * - Format: the `format` query parameter (`text` | `openmetrics`) when given. Otherwise text
 *   whenever the Accept header accepts text/plain at all, which every Prometheus's default header
 *   does (an OpenMetrics counter `foo` would be renamed `foo_total`); OpenMetrics when it accepts
 *   OpenMetrics but not text; text when it accepts neither, or is missing.
 * - Media range: among the format's versions (text 0.0.4 and 1.0.0; OpenMetrics 1.0.0 and 0.0.1),
 *   the one the Accept header gives the highest q (the most specific matching range decides a
 *   version's q; ties go to text 0.0.4 and OpenMetrics 1.0.0). A range without `version=` means
 *   text 0.0.4 / OpenMetrics 0.0.1, as client_golang reads it; wildcards match every version;
 *   `q=0` refuses.
 * - Escaping: the `escaping` query parameter (`underscores` | `dots` | `values`) when given;
 *   otherwise the chosen range's `escaping=` parameter (an unknown one is ignored); otherwise
 *   `underscores`. So names are sent unescaped (quoted) only to a scraper whose chosen range says
 *   `escaping=allow-utf-8`: one quoted name fails the whole scrape for Prometheus 2.
 * - Content-Type: what was chosen, in client_golang's form, e.g.
 *   `text/plain; version=0.0.4; charset=utf-8; escaping=underscores` (Prometheus 2.42) or
 *   `text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8` (Prometheus 3). Prometheus
 *   2 and 3 pick their parser by media type alone.
 *
 * Throws `GatewayError("BadRequest")` for an unknown `format` or `escaping` query value, and for
 * `escaping=allow-utf-8` in the query (only the scraper's Accept header can ask for that).
 *
 * @example
 * negotiateExposition("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1", null, null);
 * // { format: "text", escaping: "underscores", contentType: "text/plain; version=0.0.4; charset=utf-8; escaping=underscores" }
 * negotiateExposition(null, "openmetrics", "dots");
 * // { format: "openmetrics", escaping: "dots", contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=dots" }
 */
export function negotiateExposition(accept: string | null, format: string | null, escaping: string | null): Negotiation {
  if (format !== null && format !== "text" && format !== "openmetrics") {
    throw new GatewayError("BadRequest", `format=${format} is not a format; use format=text or format=openmetrics`);
  }
  const forced = escaping === null ? undefined : queryEscaping(escaping);
  const ranges = accept === null ? [] : parseAccept(accept);
  const text = best(ranges, CANDIDATES.text);
  const chosen: ExpositionFormat = format ?? (text !== undefined || best(ranges, CANDIDATES.openmetrics) === undefined ? "text" : "openmetrics");
  const pick = chosen === "text" ? text : best(ranges, CANDIDATES.openmetrics);
  const representation = pick?.representation ?? (chosen === "text" ? TEXT_0_0_4 : OPENMETRICS_1_0_0);
  const asked = pick?.range.params.get("escaping");
  const scheme = forced ?? (asked !== undefined && isEscapingScheme(asked) ? asked : "underscores");
  const { type, subtype, version } = representation;
  return { format: chosen, escaping: scheme, contentType: `${type}/${subtype}; version=${version}; charset=utf-8; escaping=${scheme}` };
}

function queryEscaping(value: string): EscapingScheme {
  const use = "use escaping=underscores, escaping=dots or escaping=values";
  if (value === "allow-utf-8") {
    throw new GatewayError(
      "BadRequest",
      `escaping=allow-utf-8 cannot be asked for in the query: names are sent unescaped only to a scraper whose Accept header says escaping=allow-utf-8 (Prometheus 3 does), because one quoted name fails the whole scrape for any other; ${use}`,
    );
  }
  if (!isEscapingScheme(value)) throw new GatewayError("BadRequest", `escaping=${value} is not an escaping scheme; ${use}`);
  return value;
}

/** One media range of an Accept header; parameter names and values lowercased, `q` apart. */
interface Range {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
  readonly params: ReadonlyMap<string, string>;
}

/** The candidate with the highest q, and the range that gave it; `undefined` when none is acceptable. */
function best(ranges: readonly Range[], candidates: readonly Representation[]): { representation: Representation; range: Range } | undefined {
  let out: { representation: Representation; range: Range } | undefined;
  for (const representation of candidates) {
    const range = decidingRange(ranges, representation);
    if (range === undefined || range.q <= 0) continue;
    if (out === undefined || range.q > out.range.q) out = { representation, range };
  }
  return out;
}

/** The most specific range matching `r` (the first of equally specific ones), as RFC 9110 12.5.1 says. */
function decidingRange(ranges: readonly Range[], r: Representation): Range | undefined {
  let found: Range | undefined;
  let level = -1;
  for (const range of ranges) {
    const s = specificity(range, r);
    if (s > level) {
      found = range;
      level = s;
    }
  }
  return found;
}

/** 2 for the exact type at this version, 1 for `type/*`, 0 for `*\/*`, -1 for no match. */
function specificity(range: Range, r: Representation): number {
  if (range.type === "*") return range.subtype === "*" ? 0 : -1;
  if (range.type !== r.type) return -1;
  if (range.subtype === "*") return 1;
  if (range.subtype !== r.subtype) return -1;
  const version = range.params.get("version") ?? defaultVersion(range.type, range.subtype);
  return version === r.version ? 2 : -1;
}

const Q = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * The media ranges of an Accept header. Commas and semicolons inside quoted parameter values do
 * not split; a range that is not `type/subtype` (or `*`), or whose `q` is not a qvalue, is skipped.
 */
function parseAccept(header: string): Range[] {
  const out: Range[] = [];
  for (const part of splitOutsideQuotes(header, ",")) {
    const [media = "", ...rawParams] = splitOutsideQuotes(part, ";");
    const m = media.trim().toLowerCase();
    const slash = m.indexOf("/");
    const type = m === "*" ? "*" : m.slice(0, slash).trim();
    const subtype = m === "*" ? "*" : m.slice(slash + 1).trim();
    if (m !== "*" && (slash <= 0 || subtype === "" || subtype.includes("/"))) continue;
    let q = 1;
    let valid = true;
    const params = new Map<string, string>();
    for (const p of rawParams) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      const name = p.slice(0, eq).trim().toLowerCase();
      const value = unquote(p.slice(eq + 1).trim()).toLowerCase();
      if (name === "q") {
        valid = Q.test(value);
        q = Number(value);
      } else {
        params.set(name, value);
      }
    }
    if (valid) out.push({ type, subtype, q, params });
  }
  return out;
}

function splitOutsideQuotes(s: string, separator: string): string[] {
  const parts: string[] = [];
  let from = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') quoted = !quoted;
    else if (c === "\\" && quoted) i++;
    else if (c === separator && !quoted) {
      parts.push(s.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(s.slice(from));
  return parts;
}

/** A quoted-string parameter value without its quotes and backslash escapes. */
function unquote(v: string): string {
  if (v.length < 2 || !v.startsWith('"') || !v.endsWith('"')) return v;
  return v.slice(1, -1).replace(/\\(.)/g, "$1");
}
