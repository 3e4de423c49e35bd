/** Canonical label keys: a series' labels sorted by name and rendered as exposition text. */
import type { LabelPairs } from "./model";
import { isLegacyLabelName } from "./names";
import { escapeLabelValue } from "../wire/exposition/escape";

/**
 * The canonical key of a label set: pairs sorted by name, rendered exactly as they appear between
 * the braces of an exposition line (`a="x",b="y\"z"`), so a stored key is written out verbatim.
 * A label with an empty value is the same as no label (as in Prometheus) and is left out; the empty
 * label set is `""`. Label names must already be validated and distinct.
 */
export function labelKey(pairs: LabelPairs): string {
  const n = pairs.length >> 1;
  if (n === 0) return "";
  if (n === 1) return pairs[1] === "" ? "" : renderPair(pairs[0] ?? "", pairs[1] ?? "");
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (pairs[(i << 1) + 1] !== "") order.push(i << 1);
  order.sort((a, b) => compareNames(pairs[a] ?? "", pairs[b] ?? ""));
  let key = "";
  for (const i of order) key += (key === "" ? "" : ",") + renderPair(pairs[i] ?? "", pairs[i + 1] ?? "");
  return key;
}

/**
 * The canonical key of `pairs` with the grouping labels `group` added, replacing labels of the same
 * name (as the Pushgateway does): `labelKey` of the combined set. Names in each must be distinct.
 *
 * @example groupedLabelKey(["job", "x", "a", "1"], ["job", "batch"]) // 'a="1",job="batch"'
 */
export function groupedLabelKey(pairs: LabelPairs, group: LabelPairs): string {
  if (group.length === 0) return labelKey(pairs);
  const all: LabelPairs = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i] ?? "";
    if (!hasName(group, name)) all.push(name, pairs[i + 1] ?? "");
  }
  for (const x of group) all.push(x);
  return labelKey(all);
}

function hasName(pairs: LabelPairs, name: string): boolean {
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === name) return true;
  return false;
}

/** `name="value"`, quoting a name that is not a legacy identifier (Prometheus 3 UTF-8 names). */
export function renderPair(name: string, value: string): string {
  const n = isLegacyLabelName(name) ? name : `"${escapeLabelValue(name)}"`;
  return `${n}="${escapeLabelValue(value)}"`;
}

/** Label sets as pairs, parsed back from a key made by {@link labelKey}. */
export function parseLabelKey(key: string): LabelPairs {
  const out: LabelPairs = [];
  let i = 0;
  while (i < key.length) {
    const name = readName(key, i);
    i = name.end;
    const r = readQuoted(key, i + 1); // skip '='
    out.push(name.value, r.value);
    i = r.end + 1; // skip ','
  }
  return out;
}

/** The label name that starts at `start` in a canonical key (quoted or not), and the index of its `=`. */
function readName(key: string, start: number): { value: string; end: number } {
  if (key.charCodeAt(start) === 34) return readQuoted(key, start);
  const eq = key.indexOf("=", start);
  return { value: key.slice(start, eq), end: eq };
}

function readQuoted(s: string, start: number): { value: string; end: number } {
  let value = "";
  let i = start + 1;
  let from = i;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 34) break;
    if (c === 92) {
      value += s.slice(from, i);
      const e = s.charCodeAt(i + 1);
      value += e === 110 ? "\n" : e === 34 ? '"' : "\\";
      i += 2;
      from = i;
      continue;
    }
    i++;
  }
  return { value: value + s.slice(from, i), end: i + 1 };
}

/** Whether a label set includes every pair of `subset` (both as pairs). */
export function includesAll(pairs: LabelPairs, subset: LabelPairs): boolean {
  outer: for (let j = 0; j < subset.length; j += 2) {
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] === subset[j]) {
        if (pairs[i + 1] === subset[j + 1]) continue outer;
        return false;
      }
    }
    return false;
  }
  return true;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The label names of a canonical key (see {@link labelKey}), without their values.
 *
 * @example labelNamesOf('a="x","k8s.pod"="p"') // ["a", "k8s.pod"]
 */
export function labelNamesOf(key: string): string[] {
  const names: string[] = [];
  let i = 0;
  const n = key.length;
  while (i < n) {
    const name = readName(key, i);
    names.push(name.value);
    i = name.end;
    // Skip `="value"` without unescaping it (only its end matters), then the comma.
    i = closingQuote(key, i + 1) + 2;
  }
  return names;
}

/**
 * Whether a canonical key has a label `name` (a legacy name). Cheap when it has not: the names are
 * read only when `name="` occurs where a name could start (or at the end of a value).
 *
 * @example hasLabelName('a="1",le="5"', "le") // true
 * @example hasLabelName('path="/q?x=1,le="', "le") // false (a value ending in ",le=")
 */
export function hasLabelName(key: string, name: string): boolean {
  const at = `${name}="`;
  if (!key.startsWith(at) && !key.includes(`,${at}`)) return false;
  return labelNamesOf(key).includes(name);
}

/**
 * The label names of a key that are not in `known`, without allocating for the known ones (a push
 * of 100,000 new series of one family has the same few names in every key).
 *
 * @example newLabelNames('a="1",b="2"', ["a"]) // ["b"]
 */
export function newLabelNames(key: string, known: readonly string[]): readonly string[] {
  let out: string[] | undefined;
  let i = 0;
  const n = key.length;
  while (i < n) {
    let name: string | undefined;
    if (key.charCodeAt(i) === 34) {
      const r = readQuoted(key, i);
      name = r.value;
      i = r.end;
      if (known.includes(name)) name = undefined;
    } else {
      const eq = key.indexOf("=", i);
      let hit = false;
      for (const k of known) {
        if (k.length === eq - i && key.startsWith(k, i)) {
          hit = true;
          break;
        }
      }
      if (!hit) name = key.slice(i, eq);
      i = eq;
    }
    if (name !== undefined && out?.includes(name) !== true) (out ??= []).push(name);
    i = closingQuote(key, i + 1) + 2;
  }
  return out ?? NO_NAMES;
}

const NO_NAMES: readonly string[] = Object.freeze([]);

/**
 * The index of the `"` that closes the quoted text opening at `open` (the first not escaped by a
 * backslash); the string's length if none. Found with `indexOf`: a character loop was most of what
 * reading a key's label names cost.
 *
 * @example closingQuote('a="x\\"y",b="z"', 2) // 7
 */
export function closingQuote(s: string, open: number): number {
  const from = open + 1;
  for (let at = from; ; ) {
    const q = s.indexOf('"', at);
    if (q < 0) return s.length;
    let b = q - 1;
    while (b >= from && s.charCodeAt(b) === 92) b--;
    if ((q - 1 - b) % 2 === 0) return q;
    at = q + 1;
  }
}
