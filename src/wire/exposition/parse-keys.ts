/** Canonical label keys (see `labelKey` in labels.ts) built from a sample's scanned labels, mostly as slices of the body, with the grouping labels merged in. */

import { groupedLabelKey, labelKey, renderPair } from "../../common/labels";
import type { LabelPairs } from "../../common/model";
import { compareRanges, formatLabels, rangeEquals, sameText } from "./parse-chars";
import { type LabelScan, hashKey } from "./parse-index";

/** `a` joined to `b` by a comma, either possibly empty (a grouping label with an empty value is ""). */
export function joinKey(a: string, b: string): string {
  return b === "" ? a : a === "" ? b : `${a},${b}`;
}

/**
 * `key` as one flat string. V8 keeps a concatenation as a tree of its pieces until a character of
 * it is read, and then copies it into one string: a key is kept and hashed, and a flat one is
 * smaller and cheaper to keep (the pieces become short-lived garbage) and to hash.
 */
export function flat(key: string): string {
  return key.charCodeAt(0) === -1 ? "" : key;
}

/** `name` compared with the label name at `s[a, b)`, by UTF-16 code units (as `labelKey` sorts). */
export function compareToRange(name: string, s: string, a: number, b: number): number {
  const n = Math.min(name.length, b - a);
  for (let k = 0; k < n; k++) {
    const d = name.charCodeAt(k) - s.charCodeAt(a + k);
    if (d !== 0) return d;
  }
  return name.length - (b - a);
}

/** The keys of one parse: the body, the hash seed and the grouping labels, and caches that consecutive series share. */
export class LabelKeys {
  readonly src: string;
  /** The parse's hash seed (see `hashKey`). */
  readonly seed: number;
  /**
   * Label indexes in key order, reused by `plainKey`: `orderM` of them, sorted for the first
   * `orderN` cached names of `orderGeneration` without index `orderSkip`.
   */
  readonly order: number[] = [];
  orderM = 0;
  orderN = 0;
  orderGeneration = -1;
  orderSkip = -1;
  /** The grouping labels as given, and sorted by name: names, and `name="value"` ("" for an empty value). */
  readonly group: LabelPairs;
  readonly groupNames: string[] = [];
  readonly groupText: string[] = [];
  /** `hashKey` of the grouping labels' pairs: what they add to a key's hash. */
  groupHash = 0;
  /** Set by `groupedKey`: whether a grouping label replaced a label of the scan. */
  replaced = false;
  /**
   * Label names by position in the last series built, and where in the body they were: consecutive
   * series mostly repeat them. (Values rarely repeat at the same position: caching them costs more.)
   */
  readonly nameCache: string[] = [];
  readonly nameCacheAt: number[] = [];

  constructor(src: string, seed: number, group: LabelPairs) {
    this.src = src;
    this.seed = seed;
    this.group = group;
    const byName: number[] = [];
    for (let i = 0; i < group.length; i += 2) byName.push(i);
    byName.sort((a, b) => ((group[a] ?? "") < (group[b] ?? "") ? -1 : 1));
    for (const i of byName) {
      const name = group[i] ?? "";
      const value = group[i + 1] ?? "";
      this.groupNames.push(name);
      // An empty value still replaces the body's label of that name, then leaves the key, as in labelKey.
      const text = value === "" ? "" : renderPair(name, value);
      this.groupText.push(text);
      this.groupHash = (this.groupHash + hashKey(text, seed)) | 0;
    }
  }

  nameOf(lab: LabelScan, i: number): string {
    return lab.nq[i] ?? this.src.slice(lab.ns[i] ?? 0, lab.ne[i] ?? 0);
  }

  valueOf(lab: LabelScan, i: number): string {
    return lab.vq[i] ?? this.src.slice(lab.vs[i] ?? 0, lab.ve[i] ?? 0);
  }

  compareNames(lab: LabelScan, a: number, b: number): number {
    if (lab.nq[a] === undefined && lab.nq[b] === undefined) {
      return compareRanges(this.src, lab.ns[a] ?? 0, lab.ne[a] ?? 0, lab.ns[b] ?? 0, lab.ne[b] ?? 0);
    }
    const x = this.nameOf(lab, a);
    const y = this.nameOf(lab, b);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  valueEquals(lab: LabelScan, i: number, text: string): boolean {
    const q = lab.vq[i];
    if (q !== undefined) return q === text;
    const a = lab.vs[i] ?? 0;
    return (lab.ve[i] ?? 0) - a === text.length && rangeEquals(this.src, a, text);
  }

  /**
   * The canonical key (see `labelKey`) of the scanned labels without index `skip` and without the
   * grouping labels: what tells the body's series apart. Plain, sorted labels (what clients write)
   * are their own key: one slice of the body. Plain but unsorted ones are slices put in order; only
   * others (quoted names, blanks, other escapes, empty values) are decoded and rendered again.
   */
  bodyKey(lab: LabelScan, skip: number): string {
    if (!lab.plain) return labelKey(this.materialize(lab, skip));
    if (lab.sorted) return this.sortedSlice(lab, skip);
    return this.plainKey(lab, skip, false);
  }

  /** The hash of `key`, `bodyKey(lab, skip)`: the scan's own when its pairs are written as in the key. */
  keyHash(lab: LabelScan, skip: number, key: string): number {
    if (!lab.plain) return hashKey(key, this.seed);
    return skip < 0 ? lab.hash : (lab.hash - (lab.ph[skip] ?? 0)) | 0;
  }

  /** The key a new series gets: `bodyKey` (already computed) with the grouping labels merged in. */
  seriesKey(lab: LabelScan, skip: number, bodyKey: string): string {
    return this.group.length === 0 ? bodyKey : this.groupedKey(lab, skip);
  }

  /** The key of the scanned labels without index `skip` and with the grouping labels; sets `replaced`. */
  groupedKey(lab: LabelScan, skip: number): string {
    if (lab.plain) return this.plainKey(lab, skip, true);
    const pairs = this.materialize(lab, skip);
    this.replaced = false;
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i + 1] !== "" && this.groupNames.includes(pairs[i] ?? "")) this.replaced = true;
    }
    return groupedLabelKey(pairs, this.group);
  }

  /** Plain, sorted labels without index `skip`: their text from the first name to the last value's quote. */
  sortedSlice(lab: LabelScan, skip: number): string {
    const s = this.src;
    const last = lab.n - 1;
    if (last < 0 || (last === 0 && skip === 0)) return "";
    const from = lab.ns[skip === 0 ? 1 : 0] ?? 0;
    const to = (lab.ve[skip === last ? last - 1 : last] ?? 0) + 1;
    if (skip <= 0 || skip >= last) return s.slice(from, to);
    // Skipped in the middle: the text before it (with its comma) and after it.
    return flat(s.slice(from, lab.ns[skip] ?? 0) + s.slice(lab.ns[skip + 1] ?? 0, to));
  }

  /**
   * Plain labels without index `skip`, sorted by name, and with `grouped` the grouping labels merged
   * in (replacing same-named ones), joined by commas. Pairs adjacent in the body are sliced together.
   */
  plainKey(lab: LabelScan, skip: number, grouped: boolean): string {
    const s = this.src;
    const order = this.order;
    let m = this.orderM;
    // The same names as the last series: the same order.
    if (lab.generation < 0 || lab.generation !== this.orderGeneration || lab.n !== this.orderN || skip !== this.orderSkip) {
      m = 0;
      for (let i = 0; i < lab.n; i++) if (i !== skip) order[m++] = i;
      if (!lab.sorted) {
        // Insertion sort: a handful of labels, often nearly in order.
        for (let k = 1; k < m; k++) {
          const x = order[k] ?? 0;
          let j = k - 1;
          for (; j >= 0 && this.compareNames(lab, order[j] ?? 0, x) > 0; j--) order[j + 1] = order[j] ?? 0;
          order[j + 1] = x;
        }
      }
      this.orderM = m;
      this.orderN = lab.n;
      this.orderGeneration = lab.generation;
      this.orderSkip = skip;
    }
    const names = grouped ? this.groupNames : [];
    const texts = this.groupText;
    let key = "";
    let g = 0;
    this.replaced = false;
    // The run of body text not yet added: [from, to), ending after label `prev`'s closing quote.
    let from = -1;
    let to = 0;
    let prev = -2;
    for (let k = 0; k < m; k++) {
      const i = order[k] ?? 0;
      const a = lab.ns[i] ?? 0;
      let replaced = false;
      while (g < names.length) {
        const d = compareToRange(names[g] ?? "", s, a, lab.ne[i] ?? 0);
        if (d > 0) break;
        if (from >= 0) key = joinKey(key, s.slice(from, to));
        from = -1;
        // An empty grouping value replaces the body's label, then is left out like any empty value.
        key = joinKey(key, texts[g] ?? "");
        g++;
        if (d === 0) {
          // Plain labels have no empty values: this one would have been in the key.
          replaced = this.replaced = true;
          break;
        }
      }
      if (replaced) continue;
      if (from < 0 || i !== prev + 1) {
        if (from >= 0) key = joinKey(key, s.slice(from, to));
        from = a;
      }
      to = (lab.ve[i] ?? 0) + 1;
      prev = i;
    }
    if (from >= 0) key = joinKey(key, s.slice(from, to));
    for (; g < names.length; g++) key = joinKey(key, texts[g] ?? "");
    return flat(key);
  }

  /** The scanned labels as the series' LabelPairs (without index `skip`), reusing the previous series' name strings. */
  materialize(lab: LabelScan, skip: number): LabelPairs {
    const s = this.src;
    const n = lab.n;
    // Sized up front: push() would give every small array a 17-slot backing store.
    const pairs: LabelPairs = new Array<string>(skip >= 0 && skip < n ? 2 * n - 2 : 2 * n);
    let j = 0;
    for (let i = 0; i < n; i++) {
      if (i === skip) continue;
      let name = lab.nq[i];
      if (name === undefined) {
        const a = lab.ns[i] ?? 0;
        const len = (lab.ne[i] ?? 0) - a;
        const cached = this.nameCache[i];
        if (cached !== undefined && cached.length === len && sameText(s, a, this.nameCacheAt[i] ?? 0, len)) {
          name = cached;
        } else {
          name = this.nameCache[i] = s.slice(a, a + len);
          this.nameCacheAt[i] = a;
        }
      }
      pairs[j] = name;
      pairs[j + 1] = lab.vq[i] ?? s.slice(lab.vs[i] ?? 0, lab.ve[i] ?? 0);
      j += 2;
    }
    return pairs;
  }

  /** Whether two scans hold the same labels in the same order (each without its index `skip`). */
  sameScan(a: LabelScan, skipA: number, b: LabelScan, skipB: number): boolean {
    const s = this.src;
    for (let i = 0, j = 0; ; i++, j++) {
      if (i === skipA) i++;
      if (j === skipB) j++;
      if (i >= a.n || j >= b.n) return i >= a.n && j >= b.n;
      if (a.nq[i] === undefined && b.nq[j] === undefined) {
        const x = a.ns[i] ?? 0;
        const y = b.ns[j] ?? 0;
        const len = (a.ne[i] ?? 0) - x;
        if ((b.ne[j] ?? 0) - y !== len || !sameText(s, x, y, len)) return false;
      } else if (this.nameOf(a, i) !== this.nameOf(b, j)) {
        return false;
      }
      if (a.vq[i] === undefined && b.vq[j] === undefined) {
        const x = a.vs[i] ?? 0;
        const y = b.vs[j] ?? 0;
        const len = (a.ve[i] ?? 0) - x;
        if ((b.ve[j] ?? 0) - y !== len || !sameText(s, x, y, len)) return false;
      } else if (this.valueOf(a, i) !== this.valueOf(b, j)) {
        return false;
      }
    }
  }

  labelsText(lab: LabelScan, skip: number): string {
    return formatLabels(this.materialize(lab, skip));
  }
}
