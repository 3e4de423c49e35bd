/**
 * The gateway's operations, shared by the RPC methods and the HTTP routes: validate and prepare in
 * the stateless Worker, then route to the shard that takes the write (through group commit) or fan
 * out to every shard for deletes and reads.
 */
import type { BatchResult, DeleteResult, PushMode, PushResult } from "../../rpc";
import { limitsOf, type ShardDeleteResult } from "../aggregator/contract";
import { REGISTRY_NAME, shardForGroup, shardStub } from "../aggregator/objects";
import type { ApplyOptions, PreparedFamily } from "../aggregator/plan";
import { GatewayError } from "../common/errors";
import { labelKey, parseLabelKey } from "../common/labels";
import { MAX_SOURCE_CHARS } from "../common/limits";
import type { Family, LabelPairs } from "../common/model";
import { checkMetricName, loneSurrogateAt } from "../common/names";
import { dropCreatedGauges } from "../wire/grouping";
import { parseBody } from "../wire/push-body";
import { groupCommit } from "./group-commit";
import { statusData, type StatusData } from "./reads";
import { foldWrites, labelPairs, labelsOf, opFields, type OpFields } from "./rpc-writes";
import { scrapeParts, type ScrapeOptions } from "./scrape";
import { allShards, configuredShards, shardsToRead } from "./shards";
import { prepare, ttlMsOf } from "./validate";

/** Where a push goes and how it meets what is there. */
export interface PushTarget {
  /** Grouping labels (Pushgateway path); empty for ungrouped writes. */
  group: LabelPairs;
  mode: PushMode;
  /** The write's own TTL in seconds (0: never expires); SERIES_TTL_SECONDS when absent. */
  ttlSeconds?: number | undefined;
  /** The write holds a source's cumulative totals (only increases are added). */
  source?: string | undefined;
}

/** Write options common to every write (RPC options and HTTP headers). */
export interface WriteOptions {
  ttlSeconds?: number | undefined;
}

const UNGROUPED: PushTarget = { group: [], mode: "aggregate" };

/**
 * The shard a group's writes go to, or a cumulative source's ungrouped ones (its last values live
 * there, with what it added); undefined for other ungrouped writes.
 */
function homeShard(group: string, source: string | undefined, shards: number): number | undefined {
  if (group !== "") return shardForGroup(group, shards);
  return source === undefined ? undefined : shardForGroup(`\u0000${source}`, shards);
}

/** Where ungrouped writes that can expire go (hashed like a grouping key no group can have). */
const EXPIRING = "\u0000expiring";

/** Whether an ungrouped write carries a TTL (its own, SERIES_TTL_SECONDS, or a batch op's). */
function expiring(push: readonly PreparedFamily[], options: ApplyOptions): boolean {
  return (options.ttlMs ?? 0) > 0 || push.some((f) => f.ttls?.some((t) => t > 0) === true);
}

/** The largest exposition `scrape()` returns as one string (an RPC value is at most 32 MiB). */
export const MAX_SCRAPE_STRING_CHARS = 24 * 1024 * 1024;

export class Core {
  readonly #env: Env;
  readonly #waitUntil: (promise: Promise<unknown>) => void;

  constructor(env: Env, waitUntil: (promise: Promise<unknown>) => void) {
    this.#env = env;
    this.#waitUntil = waitUntil;
  }

  /**
   * Applies a prepared write. A group's writes go to the group's shard (so PUT and DELETE stay
   * atomic there), a cumulative source's ungrouped writes to the source's shard (its last values
   * live with the aggregate), ungrouped writes that can expire to one shard (a series in parts on
   * several shards would have each part expire on its own, losing counts while the series is still
   * written), other ungrouped writes to the shards in rotation; all through group commit. A group's
   * replacing write also clears the group on every other shard (it may have lived on another one
   * before SHARDS changed).
   */
  async #apply(push: PreparedFamily[], options: ApplyOptions): Promise<PushResult> {
    const env = this.#env;
    options.limits = limitsOf(env);
    const reads = await shardsToRead(env);
    const shards = configuredShards(env);
    const shard = homeShard(options.group, options.source, shards) ?? (expiring(push, options) ? shardForGroup(EXPIRING, shards) : groupCommit.shardForUngrouped(shards));
    const result = await groupCommit.submit(env, shard, push, options, this.#waitUntil);
    const emptied = [...(result.emptied ?? [])];
    // A replacing push empties its group on the shards it held it on before (SHARDS changed). A
    // source's replace replaces only what is remembered of that source, never the aggregate.
    if (options.mode === "replace" && options.source === undefined && reads > 1) {
      const others = await allShards(reads, "replace", (i) => (i === shard ? Promise.resolve({ deleted: 0 }) : shardStub(env, i).removeGroup(options.group)));
      for (const r of others) emptied.push(...((r as ShardDeleteResult).emptied ?? []));
    }
    await this.#releaseUnused(emptied);
    return { families: result.families, series: result.series };
  }

  /**
   * Parses, validates and applies a push body: delimited protobuf by its content type, otherwise
   * exposition text. The grouping labels are added to every series; `replace` makes the group hold
   * exactly this push. With SOURCE_LABEL set, a grouping key that has that label names a cumulative
   * source and the label is not stored.
   */
  async push(body: string | Uint8Array, contentType: string | undefined, target: PushTarget = UNGROUPED): Promise<PushResult> {
    const { group, source } = this.#checked(() => this.#sourceOf(target), labelKey(target.group));
    const key = labelKey(group);
    if (target.mode === "replace" && key === "" && source === undefined) {
      const error = new GatewayError(
        "BadRequest",
        'mode "replace" needs a group (a Pushgateway grouping key, e.g. { group: { job: "nightly" } }): the ungrouped writes are shared by every writer and spread over every shard; push to a group, or delete what should go',
      );
      this.countRejected(error);
      throw error;
    }
    const prepared = this.#checked(() => {
      let families = dropCreatedGauges(parseBody(body, contentType, group));
      if (source !== undefined && target.source === undefined) families = withoutLabel(families, this.#env.SOURCE_LABEL ?? "");
      return prepare(families);
    }, key);
    const options: ApplyOptions = { group: key, mode: target.mode, ttlMs: this.#ttlMs(target.ttlSeconds, key) };
    if (source !== undefined) options.source = source;
    return this.#apply(prepared, options);
  }

  /** The grouping labels a push is stored under, and its source (header, RPC option, or SOURCE_LABEL). */
  #sourceOf(target: PushTarget): { group: LabelPairs; source: string | undefined } {
    if (target.source !== undefined) return { group: target.group, source: checkSource(target.source) };
    const label = (this.#env.SOURCE_LABEL ?? "").trim();
    if (label === "") return { group: target.group, source: undefined };
    for (let i = 0; i < target.group.length; i += 2) {
      if (target.group[i] !== label) continue;
      const group = [...target.group.slice(0, i), ...target.group.slice(i + 2)];
      return { group, source: checkSource(target.group[i + 1] ?? "") };
    }
    return { group: target.group, source: undefined };
  }

  /** A write's TTL in ms: its own, or SERIES_TTL_SECONDS. */
  #ttlMs(ttlSeconds: number | undefined, group: string): number {
    const seconds = ttlSeconds ?? Number(this.#env.SERIES_TTL_SECONDS ?? "0");
    return this.#checked(() => ttlMsOf(seconds), group);
  }

  /**
   * Deletes a group's series (the Pushgateway's `DELETE /metrics/job/...`) on every shard. With
   * SOURCE_LABEL set and that label in the grouping key, only that source's last values are
   * forgotten: the aggregate is shared with the other sources and keeps what it counted.
   */
  async deleteGroup(group: LabelPairs): Promise<DeleteResult> {
    const { group: pairs, source } = this.#sourceOf({ group, mode: "aggregate" });
    const key = labelKey(pairs);
    if (source !== undefined) {
      const shard = homeShard(key, source, configuredShards(this.#env)) ?? 0; // (never undefined with a source)
      await shardStub(this.#env, shard).forgetSource(source, key);
      return { deleted: 0 };
    }
    return this.#deleteOnEveryShard((shard) => shard.removeGroup(key));
  }

  /** Runs a delete on every shard, adds up what went, and frees the types of families no shard holds now. */
  async #deleteOnEveryShard(remove: (shard: ReturnType<typeof shardStub>) => Promise<ShardDeleteResult>): Promise<DeleteResult> {
    const env = this.#env;
    const results = (await allShards(await shardsToRead(env), "delete", (i) => remove(shardStub(env, i)))) as ShardDeleteResult[];
    await this.#releaseUnused(results.flatMap((r) => r.emptied ?? []));
    // A series with parts on several shards (ungrouped writes rotate) is one series deleted.
    const distinct = new Set<number>();
    for (const r of results) for (const h of r.hashes ?? []) distinct.add(h);
    return { deleted: distinct.size };
  }

  /** What the status page and `/api/v1/status` show. */
  async status(): Promise<StatusData> {
    return statusData(this.#env, await shardsToRead(this.#env));
  }

  async inc(name: unknown, labels: unknown, value: unknown = 1, options?: unknown): Promise<void> {
    await this.#writes([{ op: "inc", name, labels, value }], options);
  }

  async set(name: unknown, labels: unknown, value: unknown, options?: unknown): Promise<void> {
    await this.#writes([{ op: "set", name, labels, value }], options);
  }

  async observe(name: unknown, labels: unknown, value: unknown, buckets: unknown, options?: unknown): Promise<void> {
    await this.#writes([{ op: "observe", name, labels, value, buckets }], options);
  }

  /** Many `inc` / `set` / `observe` writes as one push, whole or not at all (the batching client's call). */
  async batch(ops: unknown): Promise<BatchResult> {
    const list = this.#checked(() => {
      if (!Array.isArray(ops)) throw new GatewayError("BadRequest", `batch(ops): ops must be an array of { op, name, labels, value }, got ${typeof ops}`);
      return (ops as unknown[]).map((op, i) => opFields(op, i));
    });
    if (list.length === 0) return { applied: 0 };
    await this.#writes(list, undefined);
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

  /** The exposition in parts, streamed page by page from the shards. */
  async scrape(options: ScrapeOptions): Promise<AsyncGenerator<string>> {
    return scrapeParts(this.#env, await shardsToRead(this.#env), options);
  }

  /**
   * The whole exposition as one string (RPC `scrape()`), up to {@link MAX_SCRAPE_STRING_CHARS}: an
   * RPC value cannot be larger; beyond it the caller is told to stream it instead.
   */
  async scrapeString(options: ScrapeOptions): Promise<string> {
    let out = "";
    for await (const part of await this.scrape(options)) {
      out += part;
      if (out.length > MAX_SCRAPE_STRING_CHARS) {
        throw new GatewayError(
          "LimitExceeded",
          `the exposition is over ${MAX_SCRAPE_STRING_CHARS / 1024 / 1024} MiB, more than one RPC value can carry; use scrapeStream() or fetch("http://metrics-gateway/metrics"), which stream it`,
        );
      }
    }
    return out;
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
  async #writes(ops: readonly OpFields[], options: unknown): Promise<void> {
    const push = this.#checked(() => {
      const ttlSeconds = writeOptions(options).ttlSeconds;
      return foldWrites(ttlSeconds === undefined ? ops : ops.map((op) => ({ ...op, ttlSeconds })));
    });
    await this.#apply(push, { group: "", mode: "aggregate", ttlMs: this.#ttlMs(undefined, "") });
  }

  /**
   * Lets families that no shard holds any more take another type later: the registry forgets
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

/** Options, when given, are an object (a string or an array would be ignored silently otherwise). */
export function checkOptionsObject(options: unknown, what: string, example: string): void {
  if (options === undefined || options === null) return;
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new GatewayError("BadRequest", `${what} must be an object such as ${example}, got ${Array.isArray(options) ? "an array" : typeof options}`);
  }
}

/** The RPC write options (`{ ttlSeconds }`), checked. */
export function writeOptions(options: unknown): WriteOptions {
  checkOptionsObject(options, "options", "{ ttlSeconds: 3600 }");
  if (options === undefined || options === null) return {};
  const ttl = (options as Record<string, unknown>).ttlSeconds;
  if (ttl === undefined) return {};
  if (typeof ttl !== "number") throw new GatewayError("BadRequest", `options.ttlSeconds must be a number of seconds, got ${typeof ttl}`);
  return { ttlSeconds: ttl };
}

/** A source id, checked: non-empty UTF-8 text within {@link MAX_SOURCE_CHARS}. */
export function checkSource(source: string): string {
  if (typeof source !== "string" || source === "") throw new GatewayError("BadRequest", "the source is empty; give the process's id, e.g. its instance name");
  if (source.length > MAX_SOURCE_CHARS) throw new GatewayError("LimitExceeded", `the source id has ${source.length} characters, over the limit of ${MAX_SOURCE_CHARS}`);
  if (loneSurrogateAt(source) >= 0) throw new GatewayError("InvalidValue", "the source id is not valid UTF-8 text (a lone surrogate); fix the string's encoding");
  return source;
}

/** Families with one label taken out of every series (a source label is aggregated away). */
function withoutLabel(families: Family[], label: string): Family[] {
  if (label === "") return families;
  for (const family of families) {
    const keys = family.keys;
    // Two series that differed only in that label now share a key: `prepare` must look.
    family.unique = false;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] ?? "";
      if (!key.includes(label)) continue;
      const pairs = parseLabelKey(key);
      const kept: LabelPairs = [];
      for (let j = 0; j < pairs.length; j += 2) if (pairs[j] !== label) kept.push(pairs[j] ?? "", pairs[j + 1] ?? "");
      keys[i] = labelKey(kept);
    }
  }
  return families;
}
