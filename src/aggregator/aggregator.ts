/**
 * The aggregator Durable Object: holds every series in SQLite (one row each) with an in-memory
 * index rebuilt on start, applies pushes atomically (aggregating, or replacing a Pushgateway group),
 * and renders the exposition.
 */
import { DurableObject } from "cloudflare:workers";
import type { DeleteResult, ExpositionFormat, PushResult } from "../../rpc";
import { ERROR_STATUS, GatewayError, isErrorName } from "../common/errors";
import { renderFamily, renderHeader, renderSeries, type SeriesValue } from "../wire/exposition/format";
import { includesAll, parseLabelKey } from "../common/labels";
import { merge, type PreparedFamily } from "./merge";
import type { LabelPairs, MetricType } from "../common/model";
import type { StaleSeries } from "../wire/remote-write/write-request";
import { newCounters, pushTimeFamilies, renderSelfMetrics, type Counters, type ExportReport } from "../common/self-metrics";
import type { ShardFamily, ShardSeries } from "./shard-merge";
import { REGISTRY_NAME, shardIndexOf, shardStub } from "./objects";
import { Store, valueOf } from "./store";
import type { TypeClaim } from "./registry";

interface FamilyState {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  series: Map<string, SeriesValue>;
  /** Label key -> id of the group that last wrote it; absent for the ungrouped group (id 0). */
  owner: Map<string, number>;
  /**
   * Label key -> last write (ms), kept for the types whose shards merge by recency (gauges, summary
   * quantiles, histogram layouts); counters and untyped add up and need none.
   */
  updated: Map<string, number> | null;
  /** Label keys in output order; null when a series was added or removed since. */
  sorted: string[] | null;
  /** Rendered text 0.0.4 and OpenMetrics; null when anything in the family changed since. */
  text: string | null;
  openmetrics: string | null;
}

interface GroupState {
  id: number;
  /** The grouping key: the grouping labels as a canonical label key; "" for ungrouped writes. */
  key: string;
  /** Last successful and failed push, ms since the epoch (0: never). */
  pushTime: number;
  failureTime: number;
  /** Families this group has written to (a superset: ownership may have moved since). */
  families: Set<string>;
}

/** How a push meets what its group already has. */
export interface ApplyOptions {
  /** The grouping key (see {@link GroupState.key}). */
  group: string;
  /** `aggregate` merges with the aggregation rules; `replace` makes the group hold exactly this push. */
  mode: "aggregate" | "replace";
}

/** One group as the operators' API shows it. */
export interface GroupView {
  key: string;
  pushTime: number;
  failureTime: number;
  families: ShardFamily[];
}

/** The aggregator's state for the status page and `/api/v1/status`. */
export interface StatusView {
  families: number;
  series: number;
  groups: GroupView[];
  remoteWrite: {
    lastRunMs: number;
    lastRunOk: boolean;
    lastSuccessSeconds: number;
    lastDurationSeconds: number;
    samplesSent: number;
    samplesFailed: number;
    pendingStaleMarkers: number;
  };
}

const UNGROUPED = 0;

/** A shard's delete: how many series went, and the families it no longer holds at all. */
export interface ShardDeleteResult extends DeleteResult {
  emptied?: string[];
}

/** A shard's push result: what the caller gets, plus the families a replacing push emptied here. */
export interface ShardPushResult extends PushResult {
  emptied?: string[];
}

/** What a shard reports in the first step of a read. */
export interface ShardCatalog {
  /** `[name, type, help, unit, series]`, sorted by name. */
  families: [string, MetricType, string, string, number][];
  series: number;
  counters: Counters;
  /** `[grouping key, push time, failure time]` (ms). */
  groups: [string, number, number][];
}

/** What a shard hands the export. */
export interface ShardSnapshot {
  families: ShardFamily[];
  stale: StaleSeries[];
  /** Tombstones recorded up to this time (ms) are in `stale`. */
  upTo: number;
  counters: Counters;
  series: number;
  /** As in {@link ShardCatalog}. */
  groups: [string, number, number][];
}

/** Series rows waiting for the end of a batch: family -> label key -> group and value. */
type PendingRows = Map<string, Map<string, { group: string; value: SeriesValue }>>;

/** A checked push: what it removes, the value of each series after it, families whose type it changes. */
interface Plan {
  doomed: Map<string, string[]>;
  merged: SeriesValue[][];
  retyped: Set<string>;
  series: number;
}

export class Aggregator extends DurableObject<Env> {
  readonly #store: Store;
  readonly #families = new Map<string, FamilyState>();
  readonly #groups = new Map<string, GroupState>();
  readonly #groupById: GroupState[] = [];
  #seriesCount = 0;
  #sortedNames: string[] | null = null;
  readonly #counters: Counters = newCounters();
  /** `family \0 key` of every series owed a stale marker (mirrors the `tombstones` table). */
  readonly #tombstoned = new Set<string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // SQL calls are synchronous, so the index is complete before the first request is delivered.
    this.#store = new Store(ctx.storage.sql);
    this.#group("");
    for (const row of this.#store.groups()) {
      const group = this.#group(row.key);
      group.pushTime = row.push_time;
      group.failureTime = row.failure_time;
    }
    for (const row of this.#store.families()) this.#families.set(row.name, newFamily(row.name, row.type, row.help, row.unit));
    for (const row of this.#store.series()) {
      const family = this.#families.get(row.family);
      if (family === undefined) continue;
      family.series.set(row.labels, valueOf(row));
      family.updated?.set(row.labels, row.updated);
      if (row.grp !== "") {
        const group = this.#group(row.grp);
        family.owner.set(row.labels, group.id);
        group.families.add(family.name);
      }
      this.#seriesCount++;
    }
    for (const row of this.#store.tombstones()) this.#tombstoned.add(`${row.family}\0${row.labels}`);
    this.#counters.export.lastSuccessSeconds = (this.#store.getState("last_success_ms") ?? 0) / 1000;
    this.#index = shardIndexOf(ctx.id.name);
    // Families stored before the type registry existed are registered once, before any request.
    if (this.#families.size > 0 && this.#store.getState("registered") !== 1) {
      void ctx.blockConcurrencyWhile(async () => {
        const claims = [...this.#families.values()].map((f) => ({ name: f.name, type: f.type }));
        try {
          await this.#registry().claim(claims);
        } catch (error) {
          console.error(`shard ${this.#index}: registering stored families with the type registry failed`, error);
        }
        this.#store.setState("registered", 1);
      });
    }
  }

  readonly #index: number;

  #registry() {
    return this.env.REGISTRY.getByName(REGISTRY_NAME);
  }

  /** The group for a grouping key, created in memory when new. */
  #group(key: string): GroupState {
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = { id: this.#groupById.length, key, pushTime: 0, failureTime: 0, families: new Set() };
      this.#groups.set(key, group);
      this.#groupById.push(group);
    }
    return group;
  }

  /** Deleted series are remembered for a stale marker only when there is an export to send it. */
  get #exporting(): boolean {
    return (this.env.SECRET_PROM_ENDPOINT ?? "") !== "";
  }

  /**
   * Applies a prepared push whole or not at all: every family and series is checked and merged
   * first, then written in one transaction, and only then made visible in memory. A family new to
   * this shard is first claimed in the type registry, with other requests held off meanwhile, so
   * its type agrees with every other shard's.
   */
  async apply(push: PreparedFamily[], options: ApplyOptions = { group: "", mode: "aggregate" }): Promise<ShardPushResult> {
    this.#counters.writeCalls++;
    return this.#applyOne(push, options);
  }

  async #applyOne(push: PreparedFamily[], options: ApplyOptions): Promise<ShardPushResult> {
    try {
      const claims = this.#claimsFor(push);
      if (claims.length === 0) return this.#apply(push, options, new Set());
      // An error thrown out of blockConcurrencyWhile resets the object: carry it out as a value.
      const outcome = await this.ctx.blockConcurrencyWhile(async (): Promise<{ ok: ShardPushResult } | { error: unknown }> => {
        try {
          const again = this.#claimsFor(push);
          const retype = again.filter((c) => this.#families.has(c.name)).map((c) => c.name);
          // Only a replacing push of a group that held the whole family here may change its type:
          // check locally first, then that no other shard holds it.
          this.#plan(push, options, new Set(retype));
          for (const name of retype) await this.#checkNoOtherShardHas(name);
          await this.#registry().claim(again, retype);
          return { ok: this.#apply(push, options, new Set(retype)) };
        } catch (error) {
          return { error };
        }
      });
      if ("error" in outcome) throw outcome.error;
      return outcome.ok;
    } catch (error) {
      this.reject(error instanceof Error ? error.name : "Error", options.group);
      throw error;
    }
  }

  /**
   * Applies several independent pushes in one call (group commit): each is atomic on its own and
   * fails alone; the outcomes come back in order.
   */
  async applyBatch(items: { push: PreparedFamily[]; options: ApplyOptions }[]): Promise<({ ok: ShardPushResult } | { error: { name: string; message: string } })[]> {
    this.#counters.writeCalls++;
    const out: ({ ok: ShardPushResult } | { error: { name: string; message: string } })[] = [];
    // Series rows are written once per batch, however many of its writes touched them: a hot
    // counter incremented 200 times in one batch costs one row write, not 200. The answer still
    // waits for that write to be durable.
    const pending: PendingRows = new Map();
    this.#pending = pending;
    try {
      for (const item of items) {
        try {
          out.push({ ok: await this.#applyOne(item.push, item.options) });
        } catch (error) {
          out.push({ error: { name: error instanceof Error ? error.name : "Error", message: error instanceof Error ? error.message : String(error) } });
        }
      }
    } finally {
      this.#pending = undefined;
      this.#flushRows(pending);
    }
    return out;
  }

  /** Series rows written during a batch, by family and then label key, written when the batch ends. */
  #pending: PendingRows | undefined;

  /** Upserts series rows now, or at the end of the current batch. */
  #putSeries(family: string, group: string, keys: readonly string[], values: readonly SeriesValue[], now: number): void {
    const pending = this.#pending;
    if (pending === undefined) {
      this.#store.putSeriesMany(family, group, keys, values, now);
      return;
    }
    let rows = pending.get(family);
    if (rows === undefined) {
      rows = new Map();
      pending.set(family, rows);
    }
    for (let i = 0; i < keys.length; i++) rows.set(keys[i] ?? "", { group, value: values[i] ?? NaN });
  }

  #flushRows(pending: PendingRows): void {
    if (pending.size === 0) return;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const [family, rows] of pending) {
        // One statement per family and group.
        const byGroup = new Map<string, { keys: string[]; values: SeriesValue[] }>();
        for (const [key, { group, value }] of rows) {
          let g = byGroup.get(group);
          if (g === undefined) {
            g = { keys: [], values: [] };
            byGroup.set(group, g);
          }
          g.keys.push(key);
          g.values.push(value);
        }
        for (const [group, g] of byGroup) this.#store.putSeriesMany(family, group, g.keys, g.values, now);
      }
    });
  }

  /** Families of a push that are new here, or change type, and so need the registry's word. */
  #claimsFor(push: readonly PreparedFamily[]): TypeClaim[] {
    const claims: TypeClaim[] = [];
    for (const family of push) {
      const state = this.#families.get(family.name);
      if (state === undefined || state.type !== family.type) claims.push({ name: family.name, type: family.type });
    }
    return claims;
  }

  async #checkNoOtherShardHas(name: string): Promise<void> {
    const shards = await this.#registry().shards(0);
    for (let i = 0; i < shards; i++) {
      if (i === this.#index) continue;
      if (await shardStub(this.env, i).hasFamily(name)) {
        throw new GatewayError("TypeConflict", `metric "${name}": another shard still holds it with its stored type; delete it first (DELETE /metrics/${name})`);
      }
    }
  }

  /** Whether this shard holds any series of the family. */
  hasFamily(name: string): boolean {
    return this.#families.has(name);
  }

  /** For each name, whether this shard holds any series of that family. */
  holding(names: string[]): boolean[] {
    return names.map((name) => this.#families.has(name));
  }

  #apply(push: PreparedFamily[], options: ApplyOptions, retypable: ReadonlySet<string>): ShardPushResult {
    return this.#commit(push, options, this.#plan(push, options, retypable));
  }

  /** Checks a push against what is stored and computes every new value, changing nothing. */
  #plan(push: readonly PreparedFamily[], options: ApplyOptions, retypable: ReadonlySet<string>): Plan {
    const replace = options.mode === "replace";
    const known = this.#groups.get(options.group);
    const groupId = known?.id ?? -1;
    // What a replacing push removes: the group's series that the push does not carry again.
    const doomed = replace && known !== undefined ? this.#ownedBy(known, push) : new Map<string, string[]>();

    const merged: SeriesValue[][] = [];
    const retyped = new Set<string>();
    let added = 0;
    let series = 0;
    for (const family of push) {
      const state = this.#families.get(family.name);
      if (state !== undefined && state.type !== family.type) {
        if (!replace || !this.#onlyOwnedBy(state, groupId) || !retypable.has(family.name)) {
          throw new GatewayError(
            "TypeConflict",
            `metric "${family.name}": pushed as ${family.type} but stored as ${state.type}; push it as ${state.type}, or delete it first (DELETE /metrics/${family.name})`,
          );
        }
        retyped.add(family.name);
      }
      const current = state !== undefined && !retyped.has(family.name) ? state.series : undefined;
      const values: SeriesValue[] = [];
      for (let i = 0; i < family.keys.length; i++) {
        const key = family.keys[i] ?? "";
        const pushed = family.values[i] ?? NaN;
        const stored = state?.series.get(key);
        if (stored === undefined) added++;
        values.push(replace || current === undefined ? pushed : merge(family.type, current.get(key), pushed, `metric "${family.name}{${key}}"`));
      }
      series += family.keys.length;
      merged.push(values);
    }
    let removed = 0;
    for (const keys of doomed.values()) removed += keys.length;
    const max = Number(this.env.MAX_SERIES);
    if (added > removed && this.#seriesCount + added - removed > max) {
      throw new GatewayError(
        "LimitExceeded",
        `the push adds ${added - removed} series to the ${this.#seriesCount} stored in this shard, over the limit of ${max} (MAX_SERIES, per shard); delete unused series or raise MAX_SERIES`,
      );
    }
    return { doomed, merged, retyped, series };
  }

  /** Writes a planned push in one transaction, then makes it visible in memory. */
  #commit(push: readonly PreparedFamily[], options: ApplyOptions, plan: Plan): ShardPushResult {
    const { doomed, merged, retyped, series } = plan;
    const now = Date.now();
    const group = this.#group(options.group);
    const exporting = this.#exporting;
    this.ctx.storage.transactionSync(() => {
      this.#deleteRows(doomed, exporting, now);
      push.forEach((family, f) => {
        const state = retyped.has(family.name) ? undefined : this.#families.get(family.name);
        // A replacing push that removed every series the family had also removed its families row
        // (#deleteRows): write it again, or the new series would have no family after a restart.
        const wiped = state !== undefined && (doomed.get(family.name)?.length ?? 0) === state.series.size;
        if (state === undefined || wiped || (family.help !== "" && family.help !== state.help) || (family.unit !== "" && family.unit !== state.unit)) {
          this.#store.putFamily({
            name: family.name,
            type: family.type,
            help: family.help !== "" ? family.help : (state?.help ?? ""),
            unit: family.unit !== "" ? family.unit : (state?.unit ?? ""),
          });
        }
        this.#putSeries(family.name, group.key, family.keys, merged[f] ?? [], now);
        if (this.#tombstoned.size > 0) {
          for (const key of family.keys) if (this.#tombstoned.has(`${family.name}\0${key}`)) this.#store.clearTombstone(family.name, key);
        }
      });
      if (group.key !== "") this.#store.putGroup({ key: group.key, push_time: now, failure_time: group.failureTime });
    });

    const emptied = this.#dropSeries(doomed, exporting).filter((name) => !push.some((f) => f.name === name));
    push.forEach((family, f) => {
      let state = this.#families.get(family.name);
      if (state === undefined || retyped.has(family.name)) {
        const previous = state?.series.size ?? 0;
        this.#seriesCount -= previous;
        state = newFamily(family.name, family.type, "", "");
        this.#families.set(family.name, state);
        this.#sortedNames = null;
      }
      if (family.help !== "") state.help = family.help;
      if (family.unit !== "") state.unit = family.unit;
      const values = merged[f] ?? [];
      const before = state.series.size;
      for (let i = 0; i < family.keys.length; i++) {
        const key = family.keys[i] ?? "";
        state.series.set(key, values[i] ?? NaN);
        state.updated?.set(key, now);
        if (group.id === UNGROUPED) state.owner.delete(key);
        else state.owner.set(key, group.id);
        if (this.#tombstoned.size > 0) this.#tombstoned.delete(`${family.name}\0${key}`);
      }
      this.#seriesCount += state.series.size - before;
      if (state.series.size !== before) state.sorted = null;
      state.text = null;
      state.openmetrics = null;
      if (group.id !== UNGROUPED) group.families.add(family.name);
    });
    group.pushTime = now;
    this.#counters.accepted++;
    return { families: push.length, series, emptied };
  }

  /** The series `group` owns that `push` does not carry, by family. */
  #ownedBy(group: GroupState, push: readonly PreparedFamily[] = []): Map<string, string[]> {
    const carried = new Map<string, Set<string>>();
    for (const family of push) carried.set(family.name, new Set(family.keys));
    const out = new Map<string, string[]>();
    const families = group.id === UNGROUPED ? this.#families.keys() : group.families;
    for (const name of families) {
      const state = this.#families.get(name);
      if (state === undefined) continue;
      const keep = carried.get(name);
      const keys: string[] = [];
      for (const key of state.series.keys()) {
        if ((state.owner.get(key) ?? UNGROUPED) === group.id && keep?.has(key) !== true) keys.push(key);
      }
      if (keys.length > 0) out.set(name, keys);
    }
    return out;
  }

  #onlyOwnedBy(state: FamilyState, groupId: number): boolean {
    for (const key of state.series.keys()) if ((state.owner.get(key) ?? UNGROUPED) !== groupId) return false;
    return true;
  }

  /** Deletes series rows (inside the caller's transaction), leaving tombstones when exporting. */
  #deleteRows(doomed: ReadonlyMap<string, string[]>, exporting: boolean, now: number): void {
    for (const [name, keys] of doomed) {
      const state = this.#families.get(name);
      if (state === undefined) continue;
      // A row still waiting for the batch's end must not be written back after its deletion.
      const waiting = this.#pending?.get(name);
      if (waiting !== undefined) for (const key of keys) waiting.delete(key);
      if (keys.length === state.series.size) this.#store.deleteFamily(name);
      else this.#store.deleteSeriesMany(name, keys);
      if (exporting) {
        for (const key of keys) {
          const value = state.series.get(key);
          if (value !== undefined) this.#store.putTombstone(name, state.type, key, value, now);
        }
      }
    }
  }

  /** Applies {@link #deleteRows} to memory once the transaction committed. */
  #dropSeries(doomed: ReadonlyMap<string, string[]>, exporting: boolean): string[] {
    const emptied: string[] = [];
    for (const [name, keys] of doomed) {
      const state = this.#families.get(name);
      if (state === undefined) continue;
      for (const key of keys) {
        if (state.series.delete(key)) this.#seriesCount--;
        state.owner.delete(key);
        state.updated?.delete(key);
        if (exporting) this.#tombstoned.add(`${name}\0${key}`);
      }
      if (state.series.size === 0) {
        this.#families.delete(name);
        this.#sortedNames = null;
        emptied.push(name);
      } else {
        state.sorted = null;
        state.text = null;
        state.openmetrics = null;
      }
    }
    return emptied;
  }

  /**
   * Deletes series: `"__all"` everything, a name that family, with labels only the family's series
   * whose labels include every given pair. A family left without series is removed. When an export
   * is configured, each deleted series is remembered so the next export sends its stale marker.
   */
  remove(name: string, labels?: LabelPairs): ShardDeleteResult {
    const doomed = new Map<string, string[]>();
    if (name === "__all") {
      for (const state of this.#families.values()) doomed.set(state.name, [...state.series.keys()]);
    } else {
      const state = this.#families.get(name);
      if (state === undefined) return { deleted: 0 };
      const keys = [...state.series.keys()];
      const matching = labels === undefined || labels.length === 0 ? keys : keys.filter((k) => includesAll(parseLabelKey(k), labels));
      if (matching.length > 0) doomed.set(name, matching);
    }
    let deleted = 0;
    for (const keys of doomed.values()) deleted += keys.length;
    if (deleted === 0 && name !== "__all") return { deleted: 0 };
    const exporting = this.#exporting;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.#deleteRows(doomed, exporting, now);
      if (name === "__all") {
        this.#pending?.clear();
        this.#store.deleteAll();
      }
    });
    const emptied = this.#dropSeries(doomed, exporting);
    if (name === "__all") {
      for (const group of this.#groupById) {
        if (group.id === UNGROUPED) continue;
        this.#groups.delete(group.key);
      }
      this.#groupById.length = 1;
    }
    return { deleted, emptied };
  }

  /** Deletes a group: every series it last wrote, and its push times (Pushgateway `DELETE /metrics/job/...`). */
  removeGroup(key: string): ShardDeleteResult {
    const group = this.#groups.get(key);
    if (group === undefined) return { deleted: 0 };
    const doomed = this.#ownedBy(group);
    let deleted = 0;
    for (const keys of doomed.values()) deleted += keys.length;
    const exporting = this.#exporting;
    this.ctx.storage.transactionSync(() => {
      this.#deleteRows(doomed, exporting, Date.now());
      if (key !== "") this.#store.deleteGroup(key);
    });
    const emptied = this.#dropSeries(doomed, exporting);
    if (key !== "") {
      this.#groups.delete(key);
      group.families.clear();
      group.pushTime = 0;
      group.failureTime = 0;
    }
    return { deleted, emptied };
  }

  /**
   * Everything stored plus the gateway's own metrics and the groups' push times, families by name,
   * series by labels: one part per family, from the per-family cache, for the Worker to stream.
   */
  render(format: ExpositionFormat): string[] {
    const openmetrics = format === "openmetrics";
    if (this.#sortedNames === null) this.#sortedNames = [...this.#families.keys()].sort(compare);
    const synthetic = this.#syntheticText(openmetrics);
    const parts: string[] = [];
    let s = 0;
    for (const name of this.#sortedNames) {
      while (s < synthetic.length && (synthetic[s]?.[0] ?? "") < name) parts.push(synthetic[s++]?.[1] ?? "");
      const state = this.#families.get(name);
      if (state !== undefined) parts.push(this.#renderCached(state, openmetrics));
    }
    while (s < synthetic.length) parts.push(synthetic[s++]?.[1] ?? "");
    if (openmetrics) parts.push("# EOF\n");
    return parts;
  }

  /** Families the gateway makes up: its own metrics and the Pushgateway's per-group push times, sorted by name. */
  #syntheticText(openmetrics: boolean): [string, string][] {
    const out: [string, string][] = [["metrics_gateway_", renderSelfMetrics(this.#selfStats(), openmetrics)]];
    for (const f of pushTimeFamilies([this.#groupTimes()])) out.push([f.name, renderFamily(f, openmetrics)]);
    return out.sort((a, b) => compare(a[0], b[0]));
  }

  #selfStats() {
    return { families: this.#families.size, series: this.#seriesCount, counters: this.#counters };
  }

  /** The family's rendered series lines, cached until it changes; with its HELP/TYPE header when `header`. */
  #renderCached(state: FamilyState, openmetrics: boolean, header = true): string {
    const cached = openmetrics ? state.openmetrics : state.text;
    if (cached !== null) return header ? renderHeader(state, openmetrics) + cached : cached;
    if (state.sorted === null) state.sorted = [...state.series.keys()].sort(compare);
    const keys = state.sorted;
    const series = state.series;
    const text = renderSeries(
      {
        name: state.name,
        type: state.type,
        help: state.help,
        unit: state.unit,
        series: (function* () {
          for (const key of keys) {
            const value = series.get(key);
            if (value !== undefined) yield [key, value] as const;
          }
        })(),
      },
      openmetrics,
    );
    if (openmetrics) state.openmetrics = text;
    else state.text = text;
    return header ? renderHeader(state, openmetrics) + text : text;
  }

  /** The groups with their series, for `/api/v1/metrics` and the status page. */
  status(): StatusView {
    const groups: GroupView[] = [];
    for (const group of this.#groups.values()) {
      const families: GroupView["families"] = [];
      const names = group.id === UNGROUPED ? this.#families.keys() : group.families;
      for (const name of names) {
        const state = this.#families.get(name);
        if (state === undefined) continue;
        const series: ShardSeries[] = [];
        for (const [key, value] of state.series) {
          if ((state.owner.get(key) ?? UNGROUPED) === group.id) series.push([key, value, state.updated?.get(key) ?? 0]);
        }
        if (series.length > 0) families.push({ name, type: state.type, help: state.help, unit: state.unit, series: series.sort((a, b) => compare(a[0], b[0])) });
      }
      if (group.id === UNGROUPED && families.length === 0) continue;
      families.sort((a, b) => compare(a.name, b.name));
      groups.push({ key: group.key, pushTime: group.pushTime, failureTime: group.failureTime, families });
    }
    groups.sort((a, b) => compare(a.key, b.key));
    const ex = this.#counters.export;
    return {
      families: this.#families.size,
      series: this.#seriesCount,
      groups,
      remoteWrite: {
        lastRunMs: ex.lastRunMs,
        lastRunOk: ex.lastRunOk,
        lastSuccessSeconds: ex.lastSuccessSeconds,
        lastDurationSeconds: ex.lastDurationSeconds,
        samplesSent: ex.samplesSent,
        samplesFailed: ex.samplesFailed,
        pendingStaleMarkers: this.#tombstoned.size,
      },
    };
  }

  /** This shard's families (sorted by name), counts, counters and groups: the first step of a sharded read. */
  catalog(): ShardCatalog {
    if (this.#sortedNames === null) this.#sortedNames = [...this.#families.keys()].sort(compare);
    const families: ShardCatalog["families"] = [];
    for (const name of this.#sortedNames) {
      const s = this.#families.get(name);
      if (s !== undefined) families.push([s.name, s.type, s.help, s.unit, s.series.size]);
    }
    return { families, series: this.#seriesCount, counters: this.#counters, groups: this.#groupTimes() };
  }

  /** `[grouping key, push time, failure time]` (ms) of every group. */
  #groupTimes(): [string, number, number][] {
    const groups: [string, number, number][] = [];
    for (const g of this.#groups.values()) if (g.key !== "") groups.push([g.key, g.pushTime, g.failureTime]);
    return groups;
  }

  /**
   * The second step of a sharded read: for families only this shard holds, their rendered sample
   * lines (cached); for families several shards hold, their series with last-write times to merge.
   */
  scrapeParts(format: ExpositionFormat, textNames: string[], dataNames: string[]): { texts: string[]; data: ShardFamily[] } {
    const openmetrics = format === "openmetrics";
    const texts = textNames.map((name) => {
      const state = this.#families.get(name);
      return state === undefined ? "" : this.#renderCached(state, openmetrics, false);
    });
    const data: ShardFamily[] = [];
    for (const name of dataNames) {
      const state = this.#families.get(name);
      if (state !== undefined) data.push(this.#shardFamily(state));
    }
    return { texts, data };
  }

  #shardFamily(state: FamilyState): ShardFamily {
    if (state.sorted === null) state.sorted = [...state.series.keys()].sort(compare);
    const series: ShardSeries[] = [];
    for (const key of state.sorted) {
      const value = state.series.get(key);
      if (value !== undefined) series.push([key, value, state.updated?.get(key) ?? 0]);
    }
    return { name: state.name, type: state.type, help: state.help, unit: state.unit, series };
  }

  /**
   * The sample time for an export run (asked of shard 0 only): `scheduledTime`, moved past the
   * previous run's when needed, so per series timestamps strictly increase from one run to the next.
   */
  exportTimestamp(scheduledTime: number): number {
    const last = this.#store.getState("last_export_ms") ?? 0;
    const timestampMs = Math.max(Math.floor(scheduledTime), last + 1);
    this.#store.setState("last_export_ms", timestampMs);
    return timestampMs;
  }

  /**
   * A copy of every series (sorted, with last-write times) and every pending stale marker for the
   * export, taken in one synchronous step so it is consistent; the Worker merges shards, encodes
   * and sends while this object goes on taking writes.
   */
  snapshot(): ShardSnapshot {
    const families: ShardFamily[] = [];
    for (const state of this.#families.values()) families.push(this.#shardFamily(state));
    const stale: StaleSeries[] = this.#store.tombstones().map((row) => ({ family: row.family, type: row.type, key: row.labels, value: valueOf(row) }));
    return { families, stale, upTo: Date.now(), counters: this.#counters, series: this.#seriesCount, groups: this.#groupTimes() };
  }

  /**
   * Records an export run: on full success, the stale markers this shard's snapshot handed over
   * (up to `upTo`) are delivered. The run's counters are kept by shard 0 (`primary`).
   */
  exported(report: ExportReport, upTo: number, primary: boolean): void {
    if (primary) {
      const ex = this.#counters.export;
      ex.samplesSent += report.samplesSent;
      ex.samplesFailed += report.samplesFailed;
      ex.retries += report.retries;
      for (const [outcome, n] of Object.entries(report.attempts) as [keyof typeof ex.attempts, number][]) ex.attempts[outcome] += n;
      for (const [reason, n] of Object.entries(report.dropped)) ex.dropped.set(reason, (ex.dropped.get(reason) ?? 0) + n);
      ex.lastDurationSeconds = report.durationMs / 1000;
      ex.lastRunMs = report.timestampMs;
      ex.lastRunOk = report.ok;
      if (report.ok) {
        ex.lastSuccessSeconds = report.timestampMs / 1000;
        this.#store.setState("last_success_ms", report.timestampMs);
      }
    }
    if (!report.ok) return;
    this.#store.clearTombstonesUpTo(upTo);
    this.#tombstoned.clear();
    for (const row of this.#store.tombstones()) this.#tombstoned.add(`${row.family}\0${row.labels}`);
  }

  /**
   * Counts a rejected write by reason; for a write to a known group, also records its failure time
   * (the Pushgateway's `push_failure_time_seconds`).
   */
  reject(reason: string, group?: string): void {
    if (isErrorName(reason) && ERROR_STATUS[reason] < 500) {
      this.#counters.rejected.set(reason, (this.#counters.rejected.get(reason) ?? 0) + 1);
    }
    const known = group === undefined || group === "" ? undefined : this.#groups.get(group);
    if (known !== undefined) {
      known.failureTime = Date.now();
      this.#store.putGroup({ key: known.key, push_time: known.pushTime, failure_time: known.failureTime });
    }
  }

  /** Answers when the object is up and its storage readable (for `/-/ready`). */
  ping(): { families: number; series: number } {
    return { families: this.#families.size, series: this.#seriesCount };
  }
}

function newFamily(name: string, type: MetricType, help: string, unit: string): FamilyState {
  const recency = type === "gauge" || type === "summary" || type === "histogram";
  return { name, type, help, unit, series: new Map(), owner: new Map(), updated: recency ? new Map() : null, sorted: null, text: null, openmetrics: null };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
