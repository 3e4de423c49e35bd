/**
 * Checking writes in the Worker, before any shard sees them: what needs no stored state. Reserved
 * names, duplicate series, counter values, histogram `_sum` presence, and every fixed limit
 * (src/common/limits.ts) that keeps a write storable and every read possible: a write over one is
 * a 413 and nothing of it is applied.
 */
import type { PreparedFamily } from "../aggregator/plan";
import { packArrays } from "../aggregator/rules";
import { GatewayError } from "../common/errors";
import { hasLabelName, parseLabelKey } from "../common/labels";
import { MAX_BUCKETS, MAX_HELP_CHARS, MAX_KEY_CHARS, MAX_LABEL_VALUE_CHARS, MAX_NAME_CHARS, MAX_TTL_SECONDS } from "../common/limits";
import type { Family } from "../common/model";
import type { SeriesValue } from "../common/model";

/** Prefix of the gateway's own metrics; pushes may not use it. */
export const SELF_PREFIX = "metrics_gateway_";

/** Per-group push times the gateway exposes itself, as the Pushgateway does. */
const GROUP_METRICS = new Set(["push_time_seconds", "push_failure_time_seconds"]);

/**
 * Packs every series of a parsed push under its key, checking what needs no stored state.
 * Throws a {@link GatewayError} naming the family and series at fault. A counter, gauge or untyped
 * family's columns are used as they are, not copied.
 */
export function prepare(families: readonly Family[]): PreparedFamily[] {
  const out: PreparedFamily[] = [];
  for (const family of families) {
    checkNotReserved(family.name);
    // A family with no samples (a TYPE or HELP line alone) stores nothing, so it claims nothing either.
    if (family.keys.length === 0) {
      checkFamilyLimits(family.name, family.help);
      continue;
    }
    checkFamilyLimits(family.name, family.help);
    const keys = family.keys;
    // The text parser rejects duplicate series itself, but protobuf bodies and grouping labels
    // (which replace same-named labels of the body) can still map two series to one key.
    // Unless the parser proved them distinct already (most text bodies): then only the limits.
    const seen = family.unique === true ? undefined : new Set<string>();
    let values: SeriesValue[];
    switch (family.type) {
      case "histogram":
        values = family.values.map((h, i) => {
          checkNew(family, seen, i);
          checkBucketLabel(keys[i] ?? "", "histogram", () => where(family, i));
          if (h.sum === undefined) {
            throw new GatewayError("InvalidValue", `${where(family, i)}: histogram has no _sum sample; the gateway needs _sum to aggregate, add it`);
          }
          checkBuckets(family.name, h.bounds.length, "buckets");
          return packArrays(h.sum, h.count ?? h.counts[h.counts.length - 1] ?? 0, h.bounds, h.counts);
        });
        break;
      case "summary":
        values = family.values.map((v, i) => {
          checkNew(family, seen, i);
          checkBucketLabel(keys[i] ?? "", "summary", () => where(family, i));
          if (v.sum === undefined || v.count === undefined) {
            throw new GatewayError("InvalidValue", `${where(family, i)}: summary needs both _sum and _count samples to aggregate; add them`);
          }
          checkBuckets(family.name, v.quantiles.length, "quantiles");
          return packArrays(v.sum, v.count, v.quantiles, v.values);
        });
        break;
      default: {
        const numbers = family.values;
        for (let i = 0; i < keys.length; i++) {
          checkNew(family, seen, i);
          const value = numbers[i] ?? NaN;
          if (family.type === "counter" && !(value >= 0 && value !== Infinity)) {
            throw new GatewayError(
              "InvalidValue",
              `${where(family, i)}: counter value ${value} is not a finite number >= 0; counters only go up (use a gauge for values that go down)`,
            );
          }
        }
        values = numbers;
      }
    }
    out.push({ name: family.name, type: family.type, help: family.help, unit: family.unit, keys, values });
  }
  return out;
}

/**
 * A histogram series may not have an `le` label, nor a summary series a `quantile` label, from its
 * body, its grouping key or an RPC call: its bucket or quantile lines would carry the label twice,
 * which fails the whole scrape in Prometheus (the Pushgateway refuses `quantile` likewise).
 */
export function checkBucketLabel(key: string, type: "histogram" | "summary", where: () => string): void {
  const label = type === "histogram" ? "le" : "quantile";
  if (!hasLabelName(key, label)) return;
  throw new GatewayError(
    "InvalidName",
    `${where()}: a ${type} series cannot have a label "${label}" (it names the ${type === "histogram" ? "bucket" : "quantile"} of each line; from the body, the grouping key or the call); rename the label`,
  );
}

/** Rejects names under the gateway's own {@link SELF_PREFIX} and the per-group push time names. */
export function checkNotReserved(name: string): void {
  if (name.startsWith(SELF_PREFIX)) {
    throw new GatewayError("InvalidName", `metric "${name}": the prefix "${SELF_PREFIX}" is reserved for the gateway's own metrics; rename the metric`);
  }
  if (GROUP_METRICS.has(name)) {
    throw new GatewayError("InvalidName", `metric "${name}" is reserved: the gateway sets it for every group, as the Pushgateway does; rename the metric`);
  }
  if (name === "__all") {
    throw new GatewayError("InvalidName", `metric "__all" is reserved: DELETE /metrics/__all deletes everything; rename the metric`);
  }
}

/** A family's name and HELP within their limits. */
export function checkFamilyLimits(name: string, help: string): void {
  if (name.length > MAX_NAME_CHARS) {
    throw new GatewayError("LimitExceeded", `metric "${name.slice(0, 64)}...": the name has ${name.length} characters, over the limit of ${MAX_NAME_CHARS}; shorten it`);
  }
  if (help.length > MAX_HELP_CHARS) {
    throw new GatewayError("LimitExceeded", `metric "${name}": the HELP text has ${help.length} characters, over the limit of ${MAX_HELP_CHARS}; shorten it`);
  }
}

function checkBuckets(name: string, n: number, what: "buckets" | "quantiles"): void {
  if (n > MAX_BUCKETS) {
    throw new GatewayError("LimitExceeded", `metric "${name}": a series has ${n} ${what}, over the limit of ${MAX_BUCKETS}; use fewer ${what}`);
  }
}

/**
 * Checks a label key against the limits: the whole label set, each label value, each label name.
 * Only a key longer than a limit is parsed, so nearly every key costs one length comparison.
 */
export function checkKeyLimits(key: string, where: () => string): void {
  if (key.length > MAX_KEY_CHARS) {
    throw new GatewayError("LimitExceeded", `${where()}: a label set of ${key.length} characters is over the limit of ${MAX_KEY_CHARS}; shorten its label values`);
  }
  if (key.length <= MAX_LABEL_VALUE_CHARS && key.length <= MAX_NAME_CHARS) return;
  const pairs = parseLabelKey(key);
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i] ?? "";
    const value = pairs[i + 1] ?? "";
    if (value.length > MAX_LABEL_VALUE_CHARS) {
      throw new GatewayError("LimitExceeded", `${where()}: label "${name}" has a value of ${value.length} characters, over the limit of ${MAX_LABEL_VALUE_CHARS}; shorten it`);
    }
    if (name.length > MAX_NAME_CHARS) {
      throw new GatewayError("LimitExceeded", `${where()}: a label name has ${name.length} characters, over the limit of ${MAX_NAME_CHARS}; shorten it`);
    }
  }
}

/**
 * Adds series `i`'s key to `seen` (when given), throwing if it is there already (one Set insertion
 * per series), or if it is over a limit.
 */
function checkNew(family: Family, seen: Set<string> | undefined, i: number): void {
  const key = family.keys[i] ?? "";
  checkKeyLimits(key, () => `metric "${family.name}"`);
  if (seen === undefined) return;
  const before = seen.size;
  seen.add(key);
  if (seen.size === before) {
    throw new GatewayError("InvalidValue", `${where(family, i)}: the same series appears twice in one push; send each label set once`);
  }
}

/** `metric "name{key}"`: series `i` of `family`, for messages. */
function where(family: Family, i: number): string {
  return `metric "${family.name}{${family.keys[i] ?? ""}}"`;
}


/** A TTL in seconds as ms, checked: finite, >= 0 (0: never), at most {@link MAX_TTL_SECONDS}. */
export function ttlMsOf(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_TTL_SECONDS) {
    throw new GatewayError("BadRequest", `TTL ${seconds} is not a number of seconds from 0 (never expire) to ${MAX_TTL_SECONDS}; give e.g. 3600`);
  }
  // Milliseconds, at least 1 for any positive TTL (0 means never: a tiny TTL must not become it).
  return seconds === 0 ? 0 : Math.max(1, Math.round(seconds * 1000));
}

