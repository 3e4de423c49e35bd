/**
 * Pushgateway grouping keys: the `/metrics/job/<job>{/<label>/<value>}` path, the labels it adds to
 * every pushed series, and the Python client's `_created` gauges that make no sense once aggregated.
 */
import { GatewayError } from "../common/errors";
import { groupedLabelKey, parseLabelKey } from "../common/labels";
import type { Family, LabelPairs } from "../common/model";
import { checkLabelName } from "../common/names";

/**
 * The grouping labels of a push path after `/metrics/`, e.g. `job/batch/instance/a%2Fb` or
 * `job@base64/YmF0Y2g/path@base64/=`. Segments are raw (still percent-encoded): `%2F` is a `/` in a
 * value, never a separator. A name ending in `@base64` means its value is base64url (padding
 * optional; a lone `=` is the empty value), as the Pushgateway and its clients do.
 *
 * @example parseGroupingPath("job/nightly/instance/db%2F1") // ["job", "nightly", "instance", "db/1"]
 */
export function parseGroupingPath(path: string): LabelPairs {
  const segments = path.split("/");
  if (segments.length % 2 !== 0) {
    throw new GatewayError("BadRequest", `grouping key "${path}" has an odd number of segments; use /metrics/job/<job>{/<label>/<value>}`);
  }
  const pairs: LabelPairs = [];
  const seen = new Set<string>();
  for (let i = 0; i < segments.length; i += 2) {
    let name = decode(segments[i] ?? "", path);
    let value = segments[i + 1] ?? "";
    if (name.endsWith("@base64")) {
      name = name.slice(0, -"@base64".length);
      value = base64url(value, name);
    } else {
      value = decode(value, path);
    }
    if (i === 0 && name !== "job") throw new GatewayError("BadRequest", `grouping key must start with job, not "${name}"; use /metrics/job/<job>{/<label>/<value>}`);
    checkLabelName(name, `grouping label "${name}"`);
    if (seen.has(name)) throw new GatewayError("BadRequest", `grouping label "${name}" appears twice in the path; give each label once`);
    if (name === "job" && value === "") throw new GatewayError("BadRequest", "the job name is empty; give the job a name");
    seen.add(name);
    pairs.push(name, value);
  }
  return pairs;
}

function decode(segment: string, path: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError("BadRequest", `path segment "${segment}" of "${path}" is not valid percent-encoding`);
  }
}

function base64url(value: string, name: string): string {
  if (value === "=" || value === "") return "";
  const b64 = value.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(b64) || b64.length % 4 === 1) {
    throw new GatewayError("BadRequest", `the value of "${name}@base64" is not base64url: "${value}"`);
  }
  try {
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    throw new GatewayError("BadRequest", `the value of "${name}@base64" does not decode to UTF-8 text: "${value}"`);
  }
}

/**
 * Adds the grouping labels to every series, replacing same-named labels of the body (as the
 * Pushgateway does): each family's keys are replaced in place. This is the general path (protobuf
 * bodies); the text parser builds the same keys while parsing with `ParseOptions.group`, without
 * rendering each key twice. Applying the same group again leaves the keys unchanged.
 */
export function withGroupingLabels(families: Family[], group: LabelPairs): Family[] {
  if (group.length === 0) return families;
  for (const family of families) {
    const keys = family.keys;
    // A grouping label may replace a series' own one, and two series then share a key.
    family.unique = false;
    for (let i = 0; i < keys.length; i++) keys[i] = groupedLabelKey(parseLabelKey(keys[i] ?? ""), group);
  }
  return families;
}

/**
 * Drops the `<name>_created` gauge families the Python client pushes beside each counter, histogram
 * and summary: creation times are per process, so neither summing nor replacing them means anything
 * once pushes from many processes are aggregated.
 */
export function dropCreatedGauges(families: Family[]): Family[] {
  const bases = new Set<string>();
  for (const f of families) {
    if (f.type === "counter") bases.add(f.name.endsWith("_total") ? f.name.slice(0, -6) : f.name);
    else if (f.type === "histogram" || f.type === "summary") bases.add(f.name);
  }
  if (bases.size === 0) return families;
  return families.filter((f) => !(f.type === "gauge" && f.name.endsWith("_created") && bases.has(f.name.slice(0, -8))));
}
