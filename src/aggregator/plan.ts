/**
 * Planning writes: each write of a batch is checked and merged onto what memory holds plus what the
 * batch's earlier writes staged, into a {@link Stage}. A write that fails is rolled back out of the
 * stage and changes nothing; memory is only changed once storage has taken the whole stage
 * (src/aggregator/commit.ts).
 */
import { GatewayError } from "../common/errors";
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";
import type { PackedSeries } from "./codec";
import type { FamilyState } from "./family";
import { increase, merge, type MergeNotes } from "./rules";
import { sourceKey } from "./sources";
import { heapBytes, type ShardState } from "./state";

/** One family of a write, ready to apply: label keys checked, values packed. */
export interface PreparedFamily {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  /** Canonical label keys (see `labelKey`), parallel to `values`. */
  keys: string[];
  values: SeriesValue[];
  /** Per series, its own TTL in ms (-1: the write's); ungrouped writes only. */
  ttls?: number[];
}

/** How a write meets what its group already has. */
export interface ApplyOptions {
  /** The grouping key (grouping labels as a canonical label key); "" for ungrouped writes. */
  group: string;
  /** `aggregate` merges with the aggregation rules; `replace` makes the group hold exactly this write. */
  mode: "aggregate" | "replace";
  /** Expiry: ungrouped series this long after their last write, a group this long after its last push; 0 never. */
  ttlMs?: number;
  /** The values are totals kept by this source: only their increase since its previous push is added. */
  source?: string;
  /** The limits the writing Worker is configured with (the shard's own vars when absent). */
  limits?: WriteLimits;
}

/** Limits a write is held to, as the Worker that took it is configured. */
export interface WriteLimits {
  /** MAX_SERIES: series per shard. */
  maxSeries: number;
  /** MAX_SHARD_BYTES: estimated heap bytes of series per shard. */
  maxBytes: number;
  /** MAX_SERIES_PER_FAMILY: series of one family across all shards. */
  maxSeriesPerFamily: number;
}

/** One write of a batch. */
export interface WriteItem {
  push: PreparedFamily[];
  options: ApplyOptions;
}

/**
 * A series as a write leaves it: already the member a chunk encodes (family, type and key included),
 * so a commit inserting it allocates nothing more per series (`type` is set again by the commit).
 */
export interface StagedSeries extends PackedSeries {
  group: string;
  /** Its slot in the family in memory when planned (-1: not in memory), so the commit need not look it up again. */
  slot: number;
}

/** What a batch does to one family. */
export interface StageFamily {
  name: string;
  /** The family in memory when the batch began (of whatever type). */
  existing: FamilyState | undefined;
  /** Its series are all deleted and the family comes back with {@link type}. */
  retyped: boolean;
  type: MetricType | undefined;
  help: string;
  unit: string;
  metaChanged: boolean;
  upserts: Map<string, StagedSeries>;
  /** Keys of `existing` deleted. */
  deletes: Set<string>;
}

/** What a batch does to a group. */
export interface StageGroup {
  pushTime?: number;
  /** Set (to 0) when a push starts an expired group anew. */
  failureTime?: number;
  ttlMs?: number;
}

/** Limits a shard enforces on what it holds. */
export interface ShardLimits {
  maxSeries: number;
  maxBytes: number;
}

type Undo = () => void;

/** Everything a batch changes, not yet stored nor in memory. */
export class Stage {
  readonly families = new Map<string, StageFamily>();
  readonly groups = new Map<string, StageGroup>();
  /** Per source and group (`sourceKey`), the values it pushed in this batch: family -> key -> value. */
  readonly sources = new Map<string, Map<string, Map<string, SeriesValue>>>();
  /** Sources whose state a replacing push made exactly what it pushed (earlier values forgotten). */
  readonly replacedSources = new Set<string>();
  readonly notes: MergeNotes = { narrowed: 0 };
  /** Families whose histogram layouts narrowed, with counts. */
  readonly narrowed = new Map<string, number>();
  accepted = 0;
  expired = 0;
  addedSeries = 0;
  removedSeries = 0;
  addedBytes = 0;
  readonly #undo: Undo[] = [];
  /**
   * Whether changes are recorded for a rollback. A write planned onto an empty stage (a big push
   * alone in its batch, the common case) is rolled back by clearing the stage: no undo record per
   * series is kept for it.
   */
  #record = true;
  readonly #state: ShardState;

  constructor(state: ShardState) {
    this.#state = state;
  }

  get empty(): boolean {
    return this.families.size === 0 && this.groups.size === 0 && this.sources.size === 0;
  }

  /**
   * Makes a source's remembered values exactly what a replacing push of it wrote (`kept`: family ->
   * keys): its stored values are forgotten at commit, and staged ones of earlier writes in the batch
   * now. Call it after the push's own values were taken (their increases need the earlier values).
   */
  replaceSource(source: string, group: string, kept: ReadonlyMap<string, ReadonlySet<string>>): void {
    const id = sourceId(source, group);
    // An entry even when the push held nothing: the commit then rewrites the source as empty.
    if (!this.sources.has(id)) {
      this.sources.set(id, new Map());
      this.#onUndo(() => this.sources.delete(id));
    }
    for (const [name, keys] of this.sources.get(id) ?? []) {
      const keep = kept.get(name);
      for (const [key, value] of [...keys]) {
        if (keep?.has(key) === true) continue;
        keys.delete(key);
        this.#onUndo(() => keys.set(key, value));
      }
    }
    if (this.replacedSources.has(id)) return;
    this.replacedSources.add(id);
    this.#onUndo(() => this.replacedSources.delete(id));
  }

  mark(): number {
    this.#record = !this.empty || this.accepted > 0 || this.#undo.length > 0;
    return this.#undo.length;
  }

  rollback(mark: number): void {
    if (!this.#record) {
      this.#clear();
      return;
    }
    while (this.#undo.length > mark) this.#undo.pop()?.();
  }

  #clear(): void {
    this.families.clear();
    this.groups.clear();
    this.sources.clear();
    this.replacedSources.clear();
    this.narrowed.clear();
    this.notes.narrowed = 0;
    this.accepted = 0;
    this.expired = 0;
    this.addedSeries = 0;
    this.removedSeries = 0;
    this.addedBytes = 0;
    this.#undo.length = 0;
    this.#record = true;
  }

  /** Keeps an undo step, unless the stage is rolled back by clearing it. */
  #onUndo(step: Undo): void {
    if (this.#record) this.#undo.push(step);
  }

  family(name: string): StageFamily {
    let f = this.families.get(name);
    if (f === undefined) {
      const existing = this.#state.families.get(name);
      f = {
        name,
        existing,
        retyped: false,
        type: existing?.type,
        help: existing?.help ?? "",
        unit: existing?.unit ?? "",
        metaChanged: false,
        upserts: new Map(),
        deletes: new Set(),
      };
      this.families.set(name, f);
      this.#onUndo(() => this.families.delete(name));
    }
    return f;
  }

  /** A series as the batch so far leaves it, or undefined when absent. */
  get(name: string, key: string): StagedSeries | undefined {
    const f = this.families.get(name);
    return f !== undefined ? this.current(f, key) : this.#stored(this.#state.families.get(name), key);
  }

  /** {@link get} for a family of the batch (a family new to the shard: one lookup per key). */
  current(f: StageFamily, key: string): StagedSeries | undefined {
    const staged = f.upserts.get(key);
    if (staged !== undefined || f.existing === undefined || f.retyped || f.deletes.has(key)) return staged;
    return this.#stored(f.existing, key);
  }

  #stored(family: FamilyState | undefined, key: string): StagedSeries | undefined {
    if (family === undefined) return undefined;
    const slot = family.slot(key);
    if (slot < 0) return undefined;
    return { family: family.name, type: family.type, key, value: family.value(slot), updated: family.updated(slot), expires: family.expires(slot), group: this.#state.groupOf(family, slot).key, slot };
  }

  set(f: StageFamily, key: string, series: StagedSeries): void {
    const before = f.upserts.get(key);
    const existed = before !== undefined || this.#inMemory(f, key);
    f.upserts.set(key, series);
    const bytes = heapBytes(key, series.value) - (before !== undefined ? heapBytes(key, before.value) : 0);
    this.addedBytes += bytes;
    if (!existed) this.addedSeries++;
    // Checked here, not only in #onUndo: the closure itself is an allocation per series.
    if (!this.#record) return;
    this.#onUndo(() => {
      if (before === undefined) f.upserts.delete(key);
      else f.upserts.set(key, before);
      this.addedBytes -= bytes;
      if (!existed) this.addedSeries--;
    });
  }

  delete(f: StageFamily, key: string): void {
    const before = f.upserts.get(key);
    const inMemory = this.#inMemory(f, key);
    if (before === undefined && !inMemory) return;
    f.upserts.delete(key);
    const wasDeleted = f.deletes.has(key);
    if (inMemory) f.deletes.add(key);
    this.removedSeries++;
    if (!this.#record) return;
    this.#onUndo(() => {
      if (before !== undefined) f.upserts.set(key, before);
      if (inMemory && !wasDeleted) f.deletes.delete(key);
      this.removedSeries--;
    });
  }

  /** Whether the key is live in memory and neither deleted nor retyped away by the batch. */
  #inMemory(f: StageFamily, key: string): boolean {
    return f.existing !== undefined && !f.retyped && !f.deletes.has(key) && f.existing.slot(key) >= 0;
  }

  retype(f: StageFamily, type: MetricType): void {
    const before = { retyped: f.retyped, type: f.type, upserts: new Map(f.upserts), deletes: new Set(f.deletes), removed: this.removedSeries, added: this.addedSeries };
    // Every series of the old type goes; the staged ones were already counted as added.
    let gone = f.upserts.size;
    if (f.existing !== undefined && !f.retyped) for (const key of f.existing.slots.keys()) if (!f.deletes.has(key) && !f.upserts.has(key)) gone++;
    f.retyped = true;
    f.type = type;
    f.upserts.clear();
    this.removedSeries += gone;
    this.#onUndo(() => {
      f.retyped = before.retyped;
      f.type = before.type;
      f.upserts.clear();
      for (const [k, v] of before.upserts) f.upserts.set(k, v);
      f.deletes.clear();
      for (const k of before.deletes) f.deletes.add(k);
      this.removedSeries = before.removed;
      this.addedSeries = before.added;
    });
  }

  setMeta(f: StageFamily, type: MetricType, help: string, unit: string): void {
    const before = { type: f.type, help: f.help, unit: f.unit, metaChanged: f.metaChanged };
    f.type = type;
    if (help !== "") f.help = help;
    if (unit !== "") f.unit = unit;
    f.metaChanged = before.metaChanged || f.existing === undefined || f.help !== before.help || f.unit !== before.unit || f.type !== before.type;
    this.#onUndo(() => Object.assign(f, before));
  }

  setGroup(key: string, change: StageGroup): void {
    const before = this.groups.get(key);
    this.groups.set(key, { ...before, ...change });
    this.#onUndo(() => {
      if (before === undefined) this.groups.delete(key);
      else this.groups.set(key, before);
    });
  }

  /** The last value a source pushed for a series, as the batch so far leaves it. */
  sourceValue(source: string, group: string, name: string, key: string, stored: (name: string, key: string) => SeriesValue | undefined): SeriesValue | undefined {
    const id = sourceId(source, group);
    const staged = this.sources.get(id)?.get(name);
    if (staged?.has(key) === true) return staged.get(key);
    // A replacing push of this source earlier in the batch forgot what it did not push again.
    if (this.replacedSources.has(id)) return undefined;
    return stored(name, key);
  }

  setSourceValue(source: string, group: string, name: string, key: string, value: SeriesValue): void {
    const id = sourceId(source, group);
    let bySource = this.sources.get(id);
    if (bySource === undefined) {
      bySource = new Map();
      this.sources.set(id, bySource);
      this.#onUndo(() => this.sources.delete(id));
    }
    let byFamily = bySource.get(name);
    if (byFamily === undefined) {
      byFamily = new Map();
      bySource.set(name, byFamily);
      const map = bySource;
      this.#onUndo(() => map.delete(name));
    }
    const had = byFamily.has(key);
    const before = byFamily.get(key);
    byFamily.set(key, value);
    const map = byFamily;
    this.#onUndo(() => {
      if (had && before !== undefined) map.set(key, before);
      else map.delete(key);
    });
  }

  narrow(name: string, n: number): void {
    if (n === 0) return;
    this.narrowed.set(name, (this.narrowed.get(name) ?? 0) + n);
    this.notes.narrowed += n;
    this.#onUndo(() => {
      const left = (this.narrowed.get(name) ?? n) - n;
      if (left === 0) this.narrowed.delete(name);
      else this.narrowed.set(name, left);
      this.notes.narrowed -= n;
    });
  }

  countAccepted(): void {
    this.accepted++;
    this.#onUndo(() => this.accepted--);
  }

  /** Series a write found past their TTL (not swept yet) and started anew. */
  countExpired(n: number): void {
    if (n === 0) return;
    this.expired += n;
    this.#onUndo(() => (this.expired -= n));
  }
}

/** The key of a source's state: source id and grouping key. */
export function sourceId(source: string, group: string): string {
  return sourceKey(source, group);
}

/** What planning a write needs besides memory and the stage. */
export interface PlanContext {
  now: number;
  limits: ShardLimits;
  /** Families whose type this write may change (the registry's word for a replacing push). */
  retypable: ReadonlySet<string>;
  /** A source's stored last value of a series. */
  sourceValue: (source: string, group: string, name: string, key: string) => SeriesValue | undefined;
  /** Every live series of a group in memory, by family name (for replacing pushes). */
  groupSeries: (group: string) => Map<string, string[]>;
}

/** What a write reports back. */
export interface PlanResult {
  families: number;
  series: number;
}

/**
 * Checks one write against memory plus the stage and stages its changes; throws a GatewayError
 * (leaving the stage as it was) when it cannot be applied whole.
 */
export function planWrite(state: ShardState, stage: Stage, item: WriteItem, ctx: PlanContext): PlanResult {
  const mark = stage.mark();
  try {
    return plan(state, stage, item, ctx);
  } catch (error) {
    stage.rollback(mark);
    throw error;
  }
}

function plan(state: ShardState, stage: Stage, item: WriteItem, ctx: PlanContext): PlanResult {
  const { push, options } = item;
  const group = options.group;
  const source = options.source;
  // A source's totals are its share of an aggregate other sources share too: its PUT replaces what
  // the gateway remembers of that source (once its series' increases are taken), never the aggregate.
  const replace = options.mode === "replace" && source === undefined;
  const ttlMs = options.ttlMs ?? 0;
  const now = ctx.now;

  // A group past its TTL is gone, whether or not the sweep has removed it yet (it may be late, or
  // between chunks): this push starts the group anew rather than adding to what expired.
  const restart = group !== "" && stagedGroupExpired(state, stage, group, now);

  // Types first: a family pushed with another type than it has is a conflict, unless a replacing
  // push holds all of it and the registry agreed (then its old series go).
  for (const family of push) {
    const f = stage.family(family.name);
    if (f.type !== undefined && f.type !== family.type && hasLive(f)) {
      if (!replace || !ctx.retypable.has(family.name) || !onlyGroup(state, f, group)) {
        throw new GatewayError(
          "TypeConflict",
          `metric "${family.name}": pushed as ${family.type} but stored as ${f.type}; push it as ${f.type}, or delete it first (DELETE /metrics/${encodeURIComponent(family.name)})`,
        );
      }
      stage.retype(f, family.type);
    }
    stage.setMeta(f, family.type, family.help, family.unit);
  }

  // A replacing push, or one that starts an expired group anew, removes what the group holds and
  // the push does not carry again (what it carries takes the pushed values: see `live` below).
  if (replace || restart) {
    // The keys each family carries, as a set only for families the group holds (a fresh group's
    // push of 100k series would otherwise hash them all once more for nothing).
    const pushed = new Map(push.map((f) => [f.name, f.keys]));
    let removed = 0;
    for (const [name, keys] of liveGroupSeries(stage, group, ctx)) {
      const f = stage.family(name);
      const carried = pushed.get(name);
      const keep = carried === undefined ? undefined : new Set(carried);
      for (const key of keys) {
        if (keep?.has(key) === true) continue;
        stage.delete(f, key);
        removed++;
      }
    }
    // Those removed expired (each gets its stale marker); those pushed again go on with new values.
    if (restart) stage.countExpired(removed);
  }

  let series = 0;
  for (const family of push) {
    const f = stage.family(family.name);
    const type = family.type;
    let narrowed = 0;
    for (let i = 0; i < family.keys.length; i++) {
      const key = family.keys[i] ?? "";
      const pushed = family.values[i] ?? NaN;
      const current = stage.current(f, key);
      if (current !== undefined && current.group !== group) {
        throw new GatewayError("Conflict", `series ${seriesName(family.name, key)} is held by ${groupName(current.group)}; ${groupName(group)} cannot write it: a series belongs to one group (delete it there first)`);
      }
      let value = pushed;
      // An ungrouped series past its own TTL (not swept yet) starts anew too.
      const expired = current !== undefined && (restart || (current.expires > 0 && current.expires <= now));
      const live = expired ? undefined : current;
      if (expired && !restart) stage.countExpired(1);
      if (source !== undefined) {
        const previous = stage.sourceValue(source, group, family.name, key, (n, k) => ctx.sourceValue(source, group, n, k));
        stage.setSourceValue(source, group, family.name, key, pushed);
        value = increase(type, previous, pushed);
        if (live !== undefined) value = mergeCounting(type, live.value, value, (n) => (narrowed += n));
      } else if (!replace && live !== undefined) {
        value = mergeCounting(type, live.value, value, (n) => (narrowed += n));
      }
      // Finite counters can add up past the largest double: a counter at +Inf would never move again
      // (and is a value no push may write), so the write that takes it there is refused.
      if (type === "counter" && value === Infinity) {
        throw new GatewayError(
          "InvalidValue",
          `series ${seriesName(family.name, key)}: adding ${pushed} would take the counter past the largest finite number (about 1.8e308); counters hold finite values, reset or delete it`,
        );
      }
      const ttl = family.ttls?.[i] ?? -1;
      const seriesTtl = ttl >= 0 ? ttl : ttlMs;
      stage.set(f, key, { family: family.name, type, key, value, updated: now, expires: group === "" && seriesTtl > 0 ? now + seriesTtl : 0, group, slot: current?.slot ?? -1 });
    }
    stage.narrow(family.name, narrowed);
    series += family.keys.length;
  }

  if (source !== undefined && options.mode === "replace") stage.replaceSource(source, group, new Map(push.map((f) => [f.name, new Set(f.keys)])));
  if (group !== "" || ttlMs > 0) stage.setGroup(group, group === "" ? {} : restart ? { pushTime: now, failureTime: 0, ttlMs } : { pushTime: now, ttlMs });

  const { maxSeries, maxBytes } = ctx.limits;
  const total = state.series + stage.addedSeries - stage.removedSeries;
  if (stage.addedSeries > stage.removedSeries && total > maxSeries) {
    throw new GatewayError(
      "LimitExceeded",
      `the push would make this shard hold ${total} series, over the limit of ${maxSeries} (MAX_SERIES, per shard); delete unused series, give series a TTL, or raise SHARDS`,
    );
  }
  if (stage.addedBytes > 0 && state.bytes + stage.addedBytes > maxBytes) {
    throw new GatewayError(
      "LimitExceeded",
      `the push would make this shard hold about ${mb(state.bytes + stage.addedBytes)} MB of series, over its budget of ${mb(maxBytes)} MB (MAX_SHARD_BYTES); delete unused series, give series a TTL, or raise SHARDS`,
    );
  }
  stage.countAccepted();
  return { families: push.length, series };
}

function mergeCounting(type: MetricType, stored: SeriesValue, pushed: SeriesValue, narrowed: (n: number) => void): SeriesValue {
  const notes: MergeNotes = { narrowed: 0 };
  const out = merge(type, stored, pushed, notes);
  narrowed(notes.narrowed);
  return out;
}

/** Whether a staged family has a live series. */
function hasLive(f: StageFamily): boolean {
  if (f.upserts.size > 0) return true;
  if (f.retyped || f.existing === undefined) return false;
  return f.existing.size > f.deletes.size;
}

/** Whether every live series of the family belongs to `group`. */
function onlyGroup(state: ShardState, f: StageFamily, group: string): boolean {
  for (const s of f.upserts.values()) if (s.group !== group) return false;
  if (f.retyped || f.existing === undefined) return true;
  for (const [key, slot] of f.existing.slots) {
    if (f.deletes.has(key) || f.upserts.has(key)) continue;
    if (state.groupOf(f.existing, slot).key !== group) return false;
  }
  return true;
}

/** The live series of a group as memory plus the stage leave them, by family name. */
/** Whether a group is past its TTL at `now`, as the batch so far leaves it (a push in it renews it). */
function stagedGroupExpired(state: ShardState, stage: Stage, group: string, now: number): boolean {
  const stored = state.groups.get(group);
  const staged = stage.groups.get(group);
  const pushTime = staged?.pushTime ?? stored?.pushTime ?? 0;
  const ttlMs = staged?.ttlMs ?? stored?.ttlMs ?? 0;
  return ttlMs > 0 && pushTime > 0 && pushTime + ttlMs <= now;
}

function liveGroupSeries(stage: Stage, group: string, ctx: PlanContext): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (name: string, key: string) => {
    const set = out.get(name);
    if (set === undefined) out.set(name, new Set([key]));
    else set.add(key);
  };
  for (const [name, keys] of ctx.groupSeries(group)) for (const k of keys) if (stage.get(name, k)?.group === group) add(name, k);
  for (const f of stage.families.values()) for (const [key, s] of f.upserts) if (s.group === group) add(f.name, key);
  return out;
}

/** `name{labels}` for messages. */
export function seriesName(name: string, key: string): string {
  return `${name}{${key}}`;
}

/** How a grouping key reads in messages. */
export function groupName(group: string): string {
  return group === "" ? "the ungrouped writes (POST /metrics, PATCH, RPC)" : `the group {${group}}`;
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

