/**
 * The RPC writes (`inc`, `set`, `observe`, and `batch` of them): their arguments checked as they
 * arrive from another Worker (anything may come over RPC), then folded into one push: increments
 * add up, the last set wins, observations accumulate.
 */
import type { Labels } from "../../rpc";
import type { PreparedFamily } from "../aggregator/plan";
import { merge, packArrays } from "../aggregator/rules";
import { GatewayError } from "../common/errors";
import { labelKey } from "../common/labels";
import { MAX_BUCKETS } from "../common/limits";
import type { LabelPairs, MetricType } from "../common/model";
import { checkLabelName, checkMetricName, loneSurrogateAt } from "../common/names";
import type { SeriesValue } from "../common/model";
import { checkBucketLabel, checkFamilyLimits, checkKeyLimits, checkNotReserved, ttlMsOf } from "./validate";

/** prom-client's default histogram buckets, used when `observe` is given none. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** An RPC write before validation. */
export interface OpFields {
  op: unknown;
  name: unknown;
  labels: unknown;
  value: unknown;
  buckets?: unknown;
  /** The write's own TTL in seconds (see `WriteOptions`). */
  ttlSeconds?: unknown;
  /** Where it came from, for messages: `ops[3]` in a batch. */
  where?: string;
}

/** A `batch` entry's fields (anything may arrive), named `ops[i]` for messages. */
export function opFields(op: unknown, i: number): OpFields {
  if (typeof op !== "object" || op === null || Array.isArray(op)) {
    throw new GatewayError("BadRequest", `ops[${i}]: a write must be an object such as { op: "inc", name: "jobs_total" }, got ${op === null ? "null" : Array.isArray(op) ? "an array" : typeof op}`);
  }
  const o = op as Record<string, unknown>;
  return { op: o.op, name: o.name, labels: o.labels, value: o.value, buckets: o.buckets, ttlSeconds: o.ttlSeconds, where: `ops[${i}]` };
}

/**
 * Checks every write and folds them into prepared families. Throws the first problem, naming the
 * write (`inc("x")`, or `ops[3]` in a batch).
 */
export function foldWrites(ops: readonly OpFields[]): PreparedFamily[] {
  const families = new Map<string, { type: MetricType; values: Map<string, SeriesValue>; ttls: Map<string, number> }>();
  for (const op of ops) {
    const what = op.where ?? `${String(op.op)}("${String(op.name)}")`;
    if (typeof op.name !== "string") throw new GatewayError("BadRequest", `${what}: name must be a string, got ${typeof op.name}`);
    const name = op.name;
    checkMetricName(name, `${what}: metric "${name}"`);
    checkNotReserved(name);
    checkFamilyLimits(name, "");
    let type: MetricType;
    let value: SeriesValue;
    switch (op.op) {
      case "inc": {
        const n = op.value === undefined ? 1 : number(op.value, `${what}: value`);
        if (!(n >= 0 && n !== Infinity)) {
          throw new GatewayError("InvalidValue", `${what}: value ${n} is not a finite number >= 0; counters only go up (use set() for a gauge)`);
        }
        type = "counter";
        value = n + 0; // -0 is 0 for a counter
        break;
      }
      case "set":
        type = "gauge";
        value = number(op.value, `${what}: value`);
        break;
      case "observe": {
        const v = number(op.value, `${what}: value`);
        if (Number.isNaN(v)) throw new GatewayError("InvalidValue", `${what}: value is NaN; observe a number`);
        const bounds = bucketsOf(op.buckets, what);
        type = "histogram";
        value = packArrays(v, 1, bounds, bounds.map((b) => (v <= b ? 1 : 0)));
        break;
      }
      default:
        throw new GatewayError("BadRequest", `${what}: op must be "inc", "set" or "observe", got ${JSON.stringify(op.op)}`);
    }
    const key = labelKey(labelPairs(op.labels, what));
    checkKeyLimits(key, () => what);
    if (type === "histogram") checkBucketLabel(key, type, () => what);
    let family = families.get(name);
    if (family === undefined) {
      family = { type, values: new Map(), ttls: new Map() };
      families.set(name, family);
    } else if (family.type !== type) {
      throw new GatewayError("TypeConflict", `${what}: metric "${name}" is written as ${family.type} and as ${type} in one batch; use one type per metric`);
    }
    family.values.set(key, merge(type, family.values.get(key), value));
    // The last write's TTL counts, as its write time does.
    if (op.ttlSeconds !== undefined) {
      if (typeof op.ttlSeconds !== "number") throw new GatewayError("BadRequest", `${what}: ttlSeconds must be a number of seconds, got ${typeof op.ttlSeconds}`);
      try {
        family.ttls.set(key, ttlMsOf(op.ttlSeconds));
      } catch (error) {
        if (error instanceof GatewayError) throw new GatewayError(error.name, `${what}: ${error.message}`);
        throw error;
      }
    } else family.ttls.delete(key);
  }
  return [...families].map(([name, f]): PreparedFamily => {
    const keys = [...f.values.keys()];
    const out: PreparedFamily = { name, type: f.type, help: "", unit: "", keys, values: [...f.values.values()] };
    if (f.ttls.size > 0) out.ttls = keys.map((k) => f.ttls.get(k) ?? -1);
    return out;
  });
}

function number(value: unknown, what: string): number {
  if (typeof value !== "number") throw new GatewayError("BadRequest", `${what} must be a number, got ${typeof value}`);
  return value;
}

/** Validates an RPC `labels` argument: a plain object of string values. */
export function labelsOf(labels: unknown): Labels {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== "object" || Array.isArray(labels)) {
    throw new GatewayError("BadRequest", `labels must be an object of label names to string values, got ${Array.isArray(labels) ? "an array" : typeof labels}`);
  }
  // A Map, a Date or a class instance has no own label entries: its labels would vanish silently.
  const proto: unknown = Object.getPrototypeOf(labels);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (labels as { constructor?: { name?: unknown } }).constructor?.name;
    throw new GatewayError("BadRequest", `labels must be a plain object of label names to string values, got ${typeof kind === "string" && kind !== "" ? `a ${kind}` : "another kind of object"}; e.g. { route: "/a" }`);
  }
  return labels as Labels;
}

/**
 * Label pairs from an RPC `labels` object, every name and value checked: a value must be a string
 * that UTF-8 can carry (a lone surrogate would reach every scrape as U+FFFD, making different
 * values one series).
 */
export function labelPairs(labels: unknown, what = "labels"): LabelPairs {
  const pairs: LabelPairs = [];
  for (const [name, value] of Object.entries(labelsOf(labels))) {
    checkLabelName(name, `${what}: label "${name}"`);
    if (typeof value !== "string") {
      throw new GatewayError("BadRequest", `${what}: label "${name}": value must be a string, got ${typeof value}; convert it with String()`);
    }
    const bad = loneSurrogateAt(value);
    if (bad >= 0) {
      throw new GatewayError("InvalidValue", `${what}: label "${name}": the value is not valid UTF-8 text (a lone surrogate at index ${bad}); fix the string's encoding`);
    }
    pairs.push(name, value);
  }
  return pairs;
}

function bucketsOf(buckets: unknown, what: string): number[] {
  if (buckets === undefined) return [...DEFAULT_BUCKETS, Infinity];
  if (!Array.isArray(buckets) || buckets.length === 0) throw new GatewayError("BadRequest", `${what}: buckets must be a non-empty array of ascending numbers`);
  const out: number[] = [];
  for (const b of buckets) {
    if (typeof b !== "number" || Number.isNaN(b)) throw new GatewayError("BadRequest", `${what}: buckets: ${String(b)} is not a number`);
    const last = out[out.length - 1];
    if (last !== undefined && !(b > last)) throw new GatewayError("BadRequest", `${what}: buckets must be strictly ascending; ${b} follows ${last}`);
    out.push(b);
  }
  if (out[out.length - 1] !== Infinity) out.push(Infinity);
  if (out.length > MAX_BUCKETS) throw new GatewayError("LimitExceeded", `${what}: ${out.length} buckets are over the limit of ${MAX_BUCKETS}; use fewer buckets`);
  return out;
}
