/**
 * The gateway's operations, shared by the RPC methods and the HTTP routes: validate and prepare in
 * the stateless Worker, then one call to the aggregator Durable Object.
 */
import type { BatchResult, DeleteResult, ExpositionFormat, Labels, PushMode, PushResult } from "../../rpc";
import type { ApplyOptions, ShardDeleteResult, StatusView } from "../aggregator/aggregator";
import { utf8 } from "../wire/body";
import { GatewayError } from "../common/errors";
import type { SeriesValue } from "../wire/exposition/format";
import { parseExposition } from "../wire/exposition/parse";
import { parseDelimitedProtobuf } from "../wire/exposition/protobuf";
import { dropCreatedGauges, withGroupingLabels } from "../wire/grouping";
import { labelKey } from "../common/labels";
import { MAX_KEY_CHARS, checkNotReserved, merge, packArrays, prepare, type PreparedFamily } from "../aggregator/merge";
import type { Family, LabelPairs, MetricType } from "../common/model";
import { checkLabelName, checkMetricName } from "../common/names";
import { groupCommit } from "./group-commit";
import { scrapeShards, statusShards } from "./reads";
import { REGISTRY_NAME, shardForGroup, shardStub } from "../aggregator/objects";
import { allShards, configuredShards, shardsToRead } from "./shards";

/** prom-client's default histogram buckets, used when `observe` is given none. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Media types a push body may be declared as (curl's `--data-binary` sends form-urlencoded). */
const PUSH_MEDIA_TYPES = new Set(["", "text/plain", "application/openmetrics-text", "application/json", "application/x-www-form-urlencoded"]);

/** The Go client's default push body: length-delimited `io.prometheus.client.MetricFamily` messages. */
const PROTOBUF_MEDIA_TYPE = "application/vnd.google.protobuf";

/** Where a push goes and how it meets what is there. */
export interface PushTarget {
  /** Grouping labels (Pushgateway path); empty for ungrouped writes. */
  group: LabelPairs;
  mode: PushMode;
}

const UNGROUPED: PushTarget = { group: [], mode: "aggregate" };


export class Core {
  readonly #env: Env;
  readonly #waitUntil: (promise: Promise<unknown>) => void;

  constructor(env: Env, waitUntil: (promise: Promise<unknown>) => void) {
    this.#env = env;
    this.#waitUntil = waitUntil;
  }

  /**
   * Applies a prepared write: a group's writes go to the group's shard (so PUT and DELETE stay
   * atomic there), ungrouped writes to the shards in rotation, both through group commit. A
   * replacing write also clears the group on every other shard (it may have lived on another one
   * before SHARDS changed, and the ungrouped group lives on all of them).
   */
  async #apply(prepared: PreparedFamily[], options: ApplyOptions): Promise<PushResult> {
    const env = this.#env;
    const reads = await shardsToRead(env);
    const shards = configuredShards(env);
    const shard = options.group === "" ? groupCommit.shardForUngrouped(shards) : shardForGroup(options.group, shards);
    const result = await groupCommit.submit(env, shard, prepared, options, this.#waitUntil);
    const emptied = [...(result.emptied ?? [])];
    if (options.mode === "replace" && reads > 1) {
      const others = await allShards(reads, "replace", (i) => (i === shard ? Promise.resolve({ deleted: 0 }) : shardStub(env, i).removeGroup(options.group)));
      for (const r of others) emptied.push(...((r as ShardDeleteResult).emptied ?? []));
    }
    await this.#releaseUnused(emptied);
    return { families: result.families, series: result.series };
  }

  /**
   * Parses, validates and applies a push body: delimited protobuf by its content type, otherwise
   * exposition text (see {@link formatOf}). The grouping labels are added to every series; `replace`
   * makes the group hold exactly this push.
   */
  async push(body: string | Uint8Array, contentType: string | undefined, target: PushTarget = UNGROUPED): Promise<PushResult> {
    const group = labelKey(target.group);
    const prepared = this.#checked(() => {
      const families = dropCreatedGauges(parseBody(body, contentType, target.group));
      return prepare(families);
    }, group);
    return this.#apply(prepared, { group, mode: target.mode });
  }

  /** Deletes a group's series (the Pushgateway's `DELETE /metrics/job/...`) on every shard. */
  async deleteGroup(group: LabelPairs): Promise<DeleteResult> {
    const key = labelKey(group);
    return this.#deleteOnEveryShard((shard) => shard.removeGroup(key));
  }

  /** Runs a delete on every shard, adds up what went, and frees the types of families no shard holds now. */
  async #deleteOnEveryShard(remove: (shard: ReturnType<typeof shardStub>) => Promise<ShardDeleteResult>): Promise<DeleteResult> {
    const env = this.#env;
    const results = (await allShards(await shardsToRead(env), "delete", (i) => remove(shardStub(env, i)))) as ShardDeleteResult[];
    await this.#releaseUnused(results.flatMap((r) => r.emptied ?? []));
    return { deleted: results.reduce((n, r) => n + r.deleted, 0) };
  }

  /** The groups and their series, for the operators' API and the status page. */
  async status(): Promise<StatusView> {
    return statusShards(this.#env, await shardsToRead(this.#env));
  }

  async inc(name: unknown, labels: unknown, value: unknown = 1): Promise<void> {
    await this.#writes([{ op: "inc", name, labels, value }]);
  }

  async set(name: unknown, labels: unknown, value: unknown): Promise<void> {
    await this.#writes([{ op: "set", name, labels, value }]);
  }

  async observe(name: unknown, labels: unknown, value: unknown, buckets: unknown): Promise<void> {
    await this.#writes([{ op: "observe", name, labels, value, buckets }]);
  }

  /** Many `inc` / `set` / `observe` writes as one push, whole or not at all (the batching client's call). */
  async batch(ops: unknown): Promise<BatchResult> {
    const list = this.#checked(() => {
      if (!Array.isArray(ops)) throw new GatewayError("BadRequest", `batch(ops): ops must be an array of { op, name, labels, value }, got ${typeof ops}`);
      return ops as unknown[];
    });
    if (list.length === 0) return { applied: 0 };
    await this.#writes(list.map((op, i) => opFields(op, i)));
    return { applied: list.length };
  }

  async delete(name: unknown, labels: unknown): Promise<DeleteResult> {
    const pairs = this.#checked(() => {
      if (typeof name !== "string" || name === "") throw new GatewayError("BadRequest", `delete(name): name must be a metric name or "__all"`);
      if (name === "__all") {
        if (labels !== undefined && Object.keys(labelsOf(labels)).length > 0) {
          throw new GatewayError("BadRequest", `delete("__all") takes no labels; delete a metric by name to filter by labels`);
        }
        return [];
      }
      checkMetricName(name, "delete(name)");
      return labelPairs(labels);
    });
    const target = name as string;
    return this.#deleteOnEveryShard((shard) => shard.remove(target, pairs));
  }

  /** The exposition in parts (one per family), to stream or join. */
  async scrape(format: ExpositionFormat): Promise<string[]> {
    return scrapeShards(this.#env, await shardsToRead(this.#env), format);
  }

  /** Whether the aggregator answers (for `/-/ready`). */
  async ready(): Promise<void> {
    const env = this.#env;
    await allShards(await shardsToRead(env), "ready", (i) => shardStub(env, i).ping());
  }

  /** Counts a rejection that happened before the aggregator was called, without delaying the answer. */
  countRejected(error: unknown, group = ""): void {
    if (error instanceof GatewayError) {
      const shard = group === "" ? 0 : shardForGroup(group, configuredShards(this.#env));
      this.#waitUntil(shardStub(this.#env, shard).reject(error.name, group).catch(() => undefined));
    }
  }

  /** Validates writes and folds them into one push: increments add up, the last set wins, observations accumulate. */
  async #writes(ops: readonly OpFields[]): Promise<void> {
    const push = this.#checked(() => foldWrites(ops));
    await this.#apply(push, { group: "", mode: "aggregate" });
  }

  /**
   * Lets families that no shard holds any more take another type later: the type registry forgets
   * them once every shard confirms it holds none (a push that re-created one meanwhile keeps it).
   */
  async #releaseUnused(names: string[]): Promise<void> {
    if (names.length === 0) return;
    await this.#env.REGISTRY.getByName(REGISTRY_NAME).releaseUnused([...new Set(names)]);
  }

  /** Runs a validation step, counting its rejection (against `group`, if any) before rethrowing. */
  #checked<T>(step: () => T, group = ""): T {
    try {
      return step();
    } catch (error) {
      this.countRejected(error, group);
      throw error;
    }
  }
}

/** The families of a push body, by its content type, keyed with the grouping labels already in. */
function parseBody(body: string | Uint8Array, contentType: string | undefined, group: LabelPairs): Family[] {
  const media = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (media === PROTOBUF_MEDIA_TYPE) {
    if (!/encoding\s*=\s*delimited/i.test(contentType ?? "")) {
      throw new GatewayError("UnsupportedMediaType", `Content-Type "${contentType}": only delimited protobuf (encoding=delimited) is read`);
    }
    return withGroupingLabels(parseDelimitedProtobuf(typeof body === "string" ? new TextEncoder().encode(body) : body), group);
  }
  const text = typeof body === "string" ? body : utf8(body);
  return parseExposition(decodeJsonString(text), formatOf(contentType, text), { allowTimestamps: false, rejectUnsupported: true, group });
}

/**
 * The exposition format of a push: OpenMetrics when the content type says so, or when there is no
 * telling content type and the body ends in `# EOF` (prom-client's OpenMetrics registry sends none).
 */
export function formatOf(contentType: string | undefined, body: string): ExpositionFormat {
  const media = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!PUSH_MEDIA_TYPES.has(media)) {
    throw new GatewayError(
      "UnsupportedMediaType",
      `Content-Type "${media}" is not supported; send Prometheus text (text/plain; version=0.0.4), OpenMetrics (application/openmetrics-text) or delimited protobuf`,
    );
  }
  if (media === "application/openmetrics-text") return "openmetrics";
  if (media === "text/plain" && /version\s*=\s*0\.0\.4/.test(contentType ?? "")) return "text";
  return /# EOF\s*$/.test(body.slice(-16)) ? "openmetrics" : "text";
}

/**
 * The seed README's promjs example posts `JSON.stringify(registry.metrics())`: a JSON string whose
 * content is exposition text. Exposition text never starts with `"`, so such a body is unambiguous.
 */
export function decodeJsonString(body: string): string {
  const start = body.trimStart();
  if (!start.startsWith('"')) return body;
  let decoded: unknown;
  try {
    decoded = JSON.parse(start);
  } catch {
    throw new GatewayError("ParseError", "line 1, column 1: the body starts with '\"' but is not a JSON string; send exposition text, or JSON.stringify() of it");
  }
  if (typeof decoded !== "string") throw new GatewayError("ParseError", "line 1, column 1: the body is JSON but not a string; send exposition text");
  return decoded;
}

/** An RPC write before validation. */
interface OpFields {
  op: unknown;
  name: unknown;
  labels: unknown;
  value: unknown;
  buckets?: unknown;
  /** Where it came from, for messages: `ops[3]` in a batch. */
  where?: string;
}

function opFields(op: unknown, i: number): OpFields {
  if (typeof op !== "object" || op === null) return { op: undefined, name: undefined, labels: undefined, value: undefined, where: `ops[${i}]` };
  const o = op as Record<string, unknown>;
  return { op: o.op, name: o.name, labels: o.labels, value: o.value, buckets: o.buckets, where: `ops[${i}]` };
}

/**
 * Checks every write and folds them into prepared families. Throws the first problem, naming the
 * write (`inc("x")`, or `ops[3]` in a batch).
 */
export function foldWrites(ops: readonly OpFields[]): PreparedFamily[] {
  const families = new Map<string, { type: MetricType; values: Map<string, SeriesValue> }>();
  for (const op of ops) {
    const what = op.where ?? `${String(op.op)}("${String(op.name)}")`;
    if (typeof op.name !== "string") throw new GatewayError("BadRequest", `${what}: name must be a string, got ${typeof op.name}`);
    const name = op.name;
    checkMetricName(name, `${what}: metric "${name}"`);
    checkNotReserved(name);
    let type: MetricType;
    let value: SeriesValue;
    switch (op.op) {
      case "inc": {
        const n = op.value === undefined ? 1 : number(op.value, `${what}: value`);
        if (!(n >= 0 && n !== Infinity)) {
          throw new GatewayError("InvalidValue", `${what}: value ${n} is not a finite number >= 0; counters only go up (use set() for a gauge)`);
        }
        type = "counter";
        value = n;
        break;
      }
      case "set":
        type = "gauge";
        value = number(op.value, `${what}: value`);
        break;
      case "observe": {
        const v = number(op.value, `${what}: value`);
        if (Number.isNaN(v)) throw new GatewayError("InvalidValue", `${what}: value is NaN; observe a number`);
        const bounds = bucketsOf(op.buckets);
        type = "histogram";
        value = packArrays(v, 1, bounds, bounds.map((b) => (v <= b ? 1 : 0)));
        break;
      }
      default:
        throw new GatewayError("BadRequest", `${what}: op must be "inc", "set" or "observe", got ${JSON.stringify(op.op)}`);
    }
    const key = labelKey(labelPairs(op.labels));
    if (key.length > MAX_KEY_CHARS) {
      throw new GatewayError("LimitExceeded", `${what}: a label set of ${key.length} characters is over the limit of ${MAX_KEY_CHARS}; shorten its label values`);
    }
    let family = families.get(name);
    if (family === undefined) {
      family = { type, values: new Map() };
      families.set(name, family);
    } else if (family.type !== type) {
      throw new GatewayError("TypeConflict", `${what}: metric "${name}" is written as ${family.type} and as ${type} in one batch; use one type per metric`);
    }
    family.values.set(key, merge(type, family.values.get(key), value, `${what}: metric "${name}{${key}}"`));
  }
  return [...families].map(([name, f]) => ({ name, type: f.type, help: "", unit: "", keys: [...f.values.keys()], values: [...f.values.values()] }));
}

function number(value: unknown, what: string): number {
  if (typeof value !== "number") throw new GatewayError("BadRequest", `${what} must be a number, got ${typeof value}`);
  return value;
}

/** Validates an RPC `labels` argument: a plain object of string values. */
function labelsOf(labels: unknown): Labels {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== "object" || Array.isArray(labels)) {
    throw new GatewayError("BadRequest", `labels must be an object of label names to string values, got ${Array.isArray(labels) ? "an array" : typeof labels}`);
  }
  return labels as Labels;
}

/** Label pairs from an RPC `labels` object, every name and value checked. */
export function labelPairs(labels: unknown): LabelPairs {
  const pairs: LabelPairs = [];
  for (const [name, value] of Object.entries(labelsOf(labels))) {
    checkLabelName(name, `label "${name}"`);
    if (typeof value !== "string") {
      throw new GatewayError("BadRequest", `label "${name}": value must be a string, got ${typeof value}; convert it with String()`);
    }
    pairs.push(name, value);
  }
  return pairs;
}

function bucketsOf(buckets: unknown): number[] {
  if (buckets === undefined) return [...DEFAULT_BUCKETS, Infinity];
  if (!Array.isArray(buckets) || buckets.length === 0) throw new GatewayError("BadRequest", "buckets must be a non-empty array of ascending numbers");
  const out: number[] = [];
  for (const b of buckets) {
    if (typeof b !== "number" || Number.isNaN(b)) throw new GatewayError("BadRequest", `buckets: ${String(b)} is not a number`);
    const last = out[out.length - 1];
    if (last !== undefined && !(b > last)) throw new GatewayError("BadRequest", `buckets must be strictly ascending; ${b} follows ${last}`);
    out.push(b);
  }
  if (out[out.length - 1] !== Infinity) out.push(Infinity);
  return out;
}
