/** What the parser keeps per family and per histogram or summary series while it reads a body, and how a family is handed out. */

import type { Family, Histogram, MetricType, Summary } from "../../common/model";
import type { SeriesIndex } from "./parse-index";

/** A histogram or summary series being assembled from its samples. */
export interface Slot {
  /** The series' value, in its family's `histograms` or `summaries`. */
  readonly point: Histogram | Summary;
  /**
   * Where the labels of the series' first sample are in the body (-1: none), and the label left
   * out of its key ("le", "quantile" or ""): errors show the labels as first written, and scanning
   * them again then is cheaper than keeping them for every series.
   */
  readonly labelsAt: number;
  readonly skipped: string;
  /** Line of the series' first sample, for errors found when the series is complete. */
  readonly line: number;
  negativeBucket: boolean;
  negativeSum: boolean;
}

/** A family being parsed. */
export interface FamilyState {
  /** The family's name as output (an OpenMetrics counter `foo` is `foo_total`), type, help and unit. */
  outName: string;
  type: MetricType;
  help: string;
  unit: string;
  /** The name the metadata lines use. */
  readonly name: string;
  readonly line: number;
  kind: number;
  hasType: boolean;
  hasHelp: boolean;
  hasUnit: boolean;
  hasSamples: boolean;
  /**
   * The series' keys (with the grouping labels) by index, and a scalar family's values: for a
   * scalar family, the first `count` of `Parser.scalarKeys` and `scalarValues` until it ends.
   */
  keys: string[];
  values: number[];
  count: number;
  /** The number of the family's first series in `Parser.index` (its series are numbered in a row). */
  first: number;
  /**
   * The family's own series index, once its lines came back after another family's (text format,
   * see `Parser.reopen`): from then on its series are found there, and a scalar family's keys and
   * values are kept in `keys` and `values` directly.
   */
  index: SeriesIndex | undefined;
  /** A histogram or summary family's values and series being assembled, by index. */
  readonly histograms: Histogram[];
  readonly summaries: Summary[];
  readonly slots: Slot[];
  /**
   * The body keys (without grouping labels) of the histogram and summary series, and with grouping
   * labels of the scalar ones, by index: the body's own label set decides what is a duplicate.
   */
  readonly bodyKeys: string[];
  /**
   * Whether a grouping label replaced a label of one of the family's series: then two series of
   * the body may share a key, and `prepare` checks; otherwise the index proved the keys distinct.
   */
  replaced: boolean;
  /**
   * OpenMetrics counters seen only through `_created` so far, by index. They have their place in
   * `keys` and `values` already (a series' samples are adjacent, so the `_total` that would add it
   * comes next anyway), and are taken out when the family ends without their `_total`.
   */
  pending: Set<number> | undefined;
  /** Stateset groups seen (a stateset's group is its labels minus the state label). */
  groups: Set<string> | undefined;
  /** OpenMetrics: the current group (a scalar's index, a slot, or a key) and its timestamp, to check grouping and order. */
  group: unknown;
  groupHasTs: boolean;
  groupTs: number;
  /**
   * The last sample name seen, where it was in the body (-1: quoted), and its role, so repeated
   * names are neither sliced nor resolved again.
   */
  lastName: string;
  lastNameAt: number;
  lastRole: number;
}

// How a sample relates to the current OpenMetrics group.
export const G_NEW = 0;
export const G_SAME = 1;
export const G_NEXT_POINT = 2;
/** Info samples form one group: OpenMetrics does not order their timestamps. */
export const INFO_GROUP = "info";

/** The family a parsed state holds, as output. */
export function familyOf(st: FamilyState): Family {
  const { outName: name, help, unit, keys } = st;
  const unique = !st.replaced;
  switch (st.type) {
    case "histogram":
      return { name, type: st.type, help, unit, keys, values: st.histograms, unique };
    case "summary":
      return { name, type: st.type, help, unit, keys, values: st.summaries, unique };
    default:
      return { name, type: st.type, help, unit, keys, values: st.values, unique };
  }
}
