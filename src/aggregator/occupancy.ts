/**
 * Which names a family takes in the expositions the gateway serves, so that no two families (and no
 * two label names of one family) can ever come out as the same name: in text 0.0.4 a histogram `rq`
 * writes `rq_count`, in OpenMetrics a counter `foo` is family `foo` with samples `foo_total` and
 * `foo_created`, and escaping turns `a.b` and `a-b` into the same `a_b`. The registry rejects a push
 * that would make two families (or two label names) share one, naming the other.
 */
import type { MetricType } from "../common/model";
import { ESCAPING_SCHEMES, escapeLabelName, escapeMetricName, type EscapingScheme } from "../wire/exposition/escaping";


/**
 * Every name a family of this type writes, in either format: its family names and its sample names.
 *
 * @example familyNames("rq", "histogram") // ["rq", "rq_bucket", "rq_count", "rq_created", "rq_sum"]
 */
export function familyNames(name: string, type: MetricType): string[] {
  const names = new Set<string>([name]);
  switch (type) {
    case "counter": {
      const base = name.endsWith("_total") ? name.slice(0, -"_total".length) : name;
      names.add(base);
      names.add(`${base}_total`);
      names.add(`${base}_created`);
      break;
    }
    case "histogram":
      for (const s of ["_bucket", "_sum", "_count", "_created"]) names.add(name + s);
      break;
    case "summary":
      for (const s of ["_sum", "_count", "_created"]) names.add(name + s);
      break;
    case "gauge":
    case "untyped":
      break;
  }
  return [...names].sort();
}

/** A metric name as each scheme writes it (as pushed with `allow-utf-8`, escaped otherwise). */
export function escapedForms(name: string): Map<EscapingScheme, string> {
  const out = new Map<EscapingScheme, string>();
  for (const scheme of ESCAPING_SCHEMES) out.set(scheme, escapeMetricName(name, scheme));
  return out;
}

/**
 * Names the gateway writes itself, and `__all` (`DELETE /metrics/__all` deletes everything); a
 * family that would come out as one of them is refused.
 */
const RESERVED_NAMES = new Set(["push_time_seconds", "push_failure_time_seconds", "__all"]);
const RESERVED_PREFIX = "metrics_gateway_";

/** Why a family name cannot be used because of what it escapes to, or undefined when it can. */
export function reservedProblem(name: string, type: MetricType): string | undefined {
  return claimOf(name, type).reserved;
}

/**
 * What a family of a type claims: every name it writes in every scheme, as `scheme\0escaped`
 * ids, and why it may not (a reserved name). Worked out once per name and type: a registry sees the
 * same families again and again (a job's 1,000 families each time its group comes back).
 */
interface Claim {
  ids: string[];
  reserved: string | undefined;
}

/** Claims remembered (a small map: a registry holds far fewer families than this). */
const CLAIM_MEMO = 20_000;
const claims = new Map<string, Claim>();

function claimOf(name: string, type: MetricType): Claim {
  const memo = `${type}\u0000${name}`;
  let claim = claims.get(memo);
  if (claim !== undefined) return claim;
  const ids: string[] = [];
  let reserved: string | undefined;
  for (const n of familyNames(name, type)) {
    for (const [scheme, escaped] of escapedForms(n)) {
      ids.push(`${scheme}\u0000${escaped}`);
      if (reserved === undefined && (escaped.startsWith(RESERVED_PREFIX) || RESERVED_NAMES.has(escaped))) {
        reserved = `metric "${name}" would be written as "${escaped}" (${scheme} escaping), a name the gateway reserves${escaped === "__all" ? " (DELETE /metrics/__all deletes everything)" : " for its own metrics"}; rename the metric`;
      }
    }
  }
  if (claims.size >= CLAIM_MEMO) claims.clear();
  claim = { ids, reserved };
  claims.set(memo, claim);
  return claim;
}

/** The escaped name of a claim id. */
function escapedOf(id: string): string {
  return id.slice(id.indexOf("\u0000") + 1);
}

/** A label name's ids (`scheme\0escaped`) in every scheme, worked out once (see {@link claimOf}). */
const labelClaims = new Map<string, string[]>();

function labelIds(label: string): string[] {
  let ids = labelClaims.get(label);
  if (ids !== undefined) return ids;
  ids = ESCAPING_SCHEMES.map((scheme) => `${scheme}\u0000${escapeLabelName(label, scheme)}`);
  if (labelClaims.size >= CLAIM_MEMO) labelClaims.clear();
  labelClaims.set(label, ids);
  return ids;
}

/**
 * The names every family takes, in every scheme: a family can claim its names only when none is
 * taken by another family. Families are few; this lives in the registry's memory, rebuilt from its
 * table of families on start.
 */
export class Occupancy {
  readonly #taken = new Map<string, string>();

  /** The other family that already takes one of this family's names, and that name; undefined when free. */
  clash(name: string, type: MetricType): { family: string; as: string } | undefined {
    for (const id of claimOf(name, type).ids) {
      const other = this.#taken.get(id);
      if (other !== undefined && other !== name) return { family: other, as: escapedOf(id) };
    }
    return undefined;
  }

  take(name: string, type: MetricType): void {
    for (const id of claimOf(name, type).ids) this.#taken.set(id, name);
  }

  release(name: string, type: MetricType): void {
    for (const id of claimOf(name, type).ids) if (this.#taken.get(id) === name) this.#taken.delete(id);
  }
}

/** A family's label names and what they escape to. */
export class LabelNames {
  readonly names = new Set<string>();
  readonly #taken = new Map<string, string>();

  /** The label name already in the family that writes the same as `label`, or undefined. */
  clash(label: string): { label: string; as: string } | undefined {
    if (this.names.has(label)) return undefined;
    for (const id of labelIds(label)) {
      const other = this.#taken.get(id);
      if (other !== undefined && other !== label) return { label: other, as: escapedOf(id) };
    }
    return undefined;
  }

  add(label: string): void {
    this.names.add(label);
    for (const id of labelIds(label)) this.#taken.set(id, label);
  }

  delete(label: string): void {
    this.names.delete(label);
    for (const id of labelIds(label)) if (this.#taken.get(id) === label) this.#taken.delete(id);
  }
}

/**
 * Why a label name cannot be used because of what it escapes to, or undefined when it can: a name
 * the default escaping (`underscores`, what every Prometheus 2 scrape gets) writes with a leading
 * `__` would be taken for one of Prometheus's own labels and dropped. (`dots`, which scrapers must
 * ask for explicitly, writes any name starting with an invalid character that way; it is not held
 * against a push.)
 */
export function labelReservedProblem(label: string): string | undefined {
  const escaped = escapeLabelName(label, "underscores");
  if (escaped !== label && escaped.startsWith("__")) {
    return `label "${label}" would be written as "${escaped}" (underscores escaping, the default), and names starting with "__" are Prometheus's own; rename the label`;
  }
  return undefined;
}
