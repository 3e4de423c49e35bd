/**
 * Name escaping for scrapers that cannot read UTF-8 names: prometheus/common's `model.EscapeName`
 * schemes, applied to metric names and to the label names inside canonical label keys.
 */
import { isLegacyLabelName, isLegacyMetricName } from "../../common/names";
import { closingQuote } from "../../common/labels";

/**
 * How names outside the legacy charset are written (the values of the `escaping=` Accept and
 * Content-Type parameter): `allow-utf-8` keeps them and the exposition quotes them (Prometheus 3);
 * `underscores` replaces each invalid character with `_` (the default for everyone else); `dots`
 * writes `.` as `_dot_`, `_` as `__` and anything else invalid as `__`; `values` prefixes `U__`,
 * doubles `_` and writes each invalid character as `_<code point in hex>_` (reversible).
 */
export type EscapingScheme = "allow-utf-8" | "underscores" | "dots" | "values";

/** Every scheme, in the order prometheus/common lists them. */
export const ESCAPING_SCHEMES: readonly EscapingScheme[] = ["allow-utf-8", "underscores", "dots", "values"];

/**
 * Whether `s` names an escaping scheme (exactly, as prometheus/common's `ToEscapingScheme` reads it).
 *
 * @example isEscapingScheme("dots") // true; isEscapingScheme("Dots") // false
 */
export function isEscapingScheme(s: string): s is EscapingScheme {
  return s === "allow-utf-8" || s === "underscores" || s === "dots" || s === "values";
}

type RuneTest = (c: number, first: boolean) => boolean;

/** prometheus/common's `isValidLegacyRune`: `[a-zA-Z_:]`, digits after the first character. */
const metricRune: RuneTest = (c, first) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || (!first && c >= 48 && c <= 57);

/** The label name charset `[a-zA-Z_]`, digits after the first character (no `:`). */
const labelRune: RuneTest = (c, first) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (!first && c >= 48 && c <= 57);

/**
 * `name` escaped with `scheme`, byte for byte as prometheus/common's `model.EscapeName` (v0.70, commit d2417e2):
 * no validation, and `dots` rewrites even a legacy name's underscores (`a_b` -> `a__b`); use
 * {@link escapeMetricName} / {@link escapeLabelName} for what an exposition writes. Go walks the
 * name's UTF-8 runes; a lone UTF-16 surrogate (which UTF-8 cannot hold) counts as U+FFFD, the
 * character encoding it for the wire turns it into.
 *
 * @example
 * escapeName("mysystem.prod.cpu", "underscores"); // "mysystem_prod_cpu"
 * escapeName("mysystem.prod.cpu", "dots"); // "mysystem_dot_prod_dot_cpu"
 * escapeName("label with 😱", "values"); // "U__label_20_with_20__1f631_"
 */
export function escapeName(name: string, scheme: EscapingScheme): string {
  if (name === "" || scheme === "allow-utf-8") return name;
  if (scheme === "dots") return escapeRunes(name, scheme, metricRune);
  if (isLegacyMetricName(name)) return name;
  return scheme === "values" ? `U__${escapeRunes(name, scheme, metricRune)}` : escapeRunes(name, scheme, metricRune);
}

/**
 * A metric name as an exposition escaped with `scheme` writes it: legacy names unchanged (as
 * prometheus/common's `EscapeMetricFamily` does, for `dots` too), others {@link escapeName}d.
 *
 * @example escapeMetricName("http.requests", "underscores") // "http_requests"; escapeMetricName("a_b", "dots") // "a_b"
 */
export function escapeMetricName(name: string, scheme: EscapingScheme): string {
  return scheme === "allow-utf-8" || isLegacyMetricName(name) ? name : escapeName(name, scheme);
}

/**
 * A label name as an exposition escaped with `scheme` writes it: legacy label names unchanged,
 * others escaped like {@link escapeName} but against the label charset. prometheus/common escapes
 * label names against the metric charset, which keeps `:`, so its `a:b` stays `a:b`: a label name
 * no legacy parser reads (promtool: "expected '=' after label name, found ':'"). Here `:` is
 * escaped like any other invalid character (`a_b`, `a__b`, `U__a_3a_b`); names without `:` come
 * out exactly as prometheus/common writes them.
 *
 * @example escapeLabelName("k8s.pod", "underscores") // "k8s_pod"; escapeLabelName("a:b", "values") // "U__a_3a_b"
 */
export function escapeLabelName(name: string, scheme: EscapingScheme): string {
  if (scheme === "allow-utf-8" || name === "" || isLegacyLabelName(name)) return name;
  return scheme === "values" ? `U__${escapeRunes(name, scheme, labelRune)}` : escapeRunes(name, scheme, labelRune);
}

/** The character loop of `EscapeName` for the three escaping schemes, with the charset as a parameter. */
function escapeRunes(name: string, scheme: Exclude<EscapingScheme, "allow-utf-8">, valid: RuneTest): string {
  let out = "";
  let first = true;
  for (const ch of name) {
    let c = ch.codePointAt(0) ?? 0xfffd;
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    const ok = valid(c, first);
    first = false;
    if (scheme === "underscores") out += ok ? ch : "_";
    else if (c === 95) out += "__";
    else if (scheme === "dots") out += c === 46 ? "_dot_" : ok ? ch : "__";
    else out += ok ? ch : `_${c.toString(16)}_`;
  }
  return out;
}

/** Why a label key cannot be written with a scheme: the escaped labels would not be a valid label set. */
export interface KeyEscapeProblem {
  /**
   * `escaped_label_clash`: two label names escape to the same name (`a.b` and `a_b` with
   * `underscores`); `escaped_reserved_label`: a name escapes to one starting with `__`, Prometheus's
   * own labels (`..name__` with `underscores`; `ü` or `-name_` with `dots`).
   */
  readonly reason: "escaped_label_clash" | "escaped_reserved_label";
  /** The label name (unescaped) that caused it. */
  readonly label: string;
  /** The key as {@link escapeKey} writes it anyway. */
  readonly key: string;
}

/**
 * A canonical label key (`labelKey` in common/labels.ts: `a="x",b="y\"z"`, non-legacy names
 * quoted) with its label names escaped for `scheme`, pairs sorted again by escaped name so that
 * equal label sets give equal keys. A key with no quoted name (nearly every key) is returned as it
 * is without being parsed; so is every key for `allow-utf-8`.
 *
 * Two names escaping to the same one give a key with that name twice: use
 * {@link escapeKeyChecked} where that matters (an exposition).
 *
 * @example
 * escapeKey('"k8s.pod"="p",a="x"', "underscores"); // 'a="x",k8s_pod="p"'
 * escapeKey('a="x"', "values"); // 'a="x"' (the same string)
 */
export function escapeKey(key: string, scheme: EscapingScheme): string {
  const r = escapeKeyChecked(key, scheme);
  return typeof r === "string" ? r : r.key;
}

/**
 * {@link escapeKey}, or the problem that makes the escaped labels invalid: two names escaping to
 * the same name, or a name escaping to `__name__`.
 *
 * @example
 * escapeKeyChecked('"a.b"="1",a_b="2"', "underscores");
 * // { reason: "escaped_label_clash", label: "a.b", key: 'a_b="1",a_b="2"' }
 */
export function escapeKeyChecked(key: string, scheme: EscapingScheme): string | KeyEscapeProblem {
  if (scheme === "allow-utf-8" || !hasQuotedName(key)) return key;
  // Values stay the slices they are in the key (`="..."`, escapes and all): only names change.
  const pairs: { name: string; from: string; value: string }[] = [];
  let changed = false;
  for (let i = 0; i < key.length; ) {
    let from: string;
    if (key.charCodeAt(i) === 34) {
      const end = closingQuote(key, i);
      from = unescapeName(key.slice(i + 1, end));
      i = end + 1;
    } else {
      const eq = key.indexOf("=", i);
      from = key.slice(i, eq);
      i = eq;
    }
    const end = closingQuote(key, i + 1);
    const name = escapeLabelName(from, scheme);
    if (name !== from) changed = true;
    pairs.push({ name, from, value: key.slice(i, end + 1) });
    i = end + 2;
  }
  // hasQuotedName can be fooled by a label value ending in `,`; such a key has nothing to escape.
  if (!changed) return key;
  pairs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let out = "";
  let problem: Omit<KeyEscapeProblem, "key"> | undefined;
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i];
    if (p === undefined) continue;
    // A name that escapes to a leading `__` (only `dots` can make one now: the registry refuses the
    // others at push time) is one of Prometheus's own labels to every parser: `__name__` breaks the
    // line, any other is dropped or refused. The series is left out rather than served so.
    if (problem === undefined && p.name !== p.from && p.name.startsWith("__")) problem = { reason: "escaped_reserved_label", label: p.from };
    const previous = pairs[i - 1];
    if (problem === undefined && previous !== undefined && previous.name === p.name) {
      problem = { reason: "escaped_label_clash", label: p.from === p.name ? previous.from : p.from };
    }
    out += i === 0 ? p.name + p.value : `,${p.name}${p.value}`;
  }
  return problem === undefined ? out : { ...problem, key: out };
}

/** The index of the `"` closing the quoted string that opens at `open`. */
/** A quoted name's text without its escapes (`\\`, `\"`, `\n`, the ones `renderPair` writes). */
function unescapeName(s: string): string {
  if (s.indexOf("\\") === -1) return s;
  return s.replace(/\\([\s\S])/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/**
 * Whether a canonical key may hold a quoted label name: one starts the key or follows the `,`
 * between two pairs, so this is never false for a key that has one. It is also true when a label
 * value ends in `,` (rendered `a="x,"`; a `"` inside a value is always `\"`), and the caller then
 * parses for nothing.
 */
function hasQuotedName(key: string): boolean {
  return key.charCodeAt(0) === 34 || key.indexOf(',"') !== -1;
}
