/**
 * The aggregator Durable Object: one shard of the series. It applies batches of writes (each write
 * whole or not at all, on its own), deletes, and hands its series over in pages for scrapes,
 * exports and the status views. Memory changes only after storage has taken a write, so memory
 * always equals what a restart rebuilds (`verify()` checks exactly that).
 */
import { DurableObject } from "cloudflare:workers";
import { ERROR_STATUS, GatewayError, isErrorName } from "../common/errors";
import { includesAll, parseLabelKey } from "../common/labels";
import type { LabelPairs, MetricType } from "../common/model";
import { newCounters, type Counters, type ExportReport } from "../common/self-metrics";
import { admissionOf, forRegistry, releasesAfter, withSeriesNamed, type LocalAdmit } from "./admission";
import type { PackedSeries } from "./codec";
import { commitStage, type CommitResult } from "./commit";
import { limitsOf, type Catalog, type DirectoryPart, type FamilySummary, type GroupSummary, type Outcome, type ShardDeleteResult, type ShardPushResult, type StalePage } from "./contract";
import { keyHash } from "./directory";
import { REGISTRY_NAME, shardIndexOf } from "./objects";
import { groupExpired, PUSH_FAILURE_TIME, PUSH_TIME, readPage, seriesExpired, type Page, type PageRequest } from "./pages";
import { planWrite, Stage, type ApplyOptions, type PlanResult, type PreparedFamily, type WriteItem, type WriteLimits } from "./plan";
import type { AdmitItem, AdmitVerdict } from "./registry";
import { sourceKey } from "./sources";
import { loadState, RENDER_CACHE_BYTES, type ShardState } from "./state";
import { Store, type StaleRow } from "./store";
import { nextExpiry, planSweep, SWEEP_CHUNK } from "./sweep";
import { diffStates } from "./verify";

export type { Catalog, DirectoryPart, FamilySummary, GroupSummary, Outcome, ShardDeleteResult, ShardPushResult, StalePage } from "./contract";

export class Aggregator extends DurableObject<Env> {
  readonly #store: Store;
  #state: ShardState;
  readonly #counters: Counters = newCounters();
  readonly #index: number;
  /** Writes and deletes run one at a time (reads do not wait). */
  #lock: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // SQL calls are synchronous, so the state is complete before the first request is delivered.
    this.#store = new Store(ctx.storage.sql);
    this.#state = loadState(this.#store);
    this.#counters.export.lastSuccessSeconds = (this.#store.getState("last_success_ms") ?? 0) / 1000;
    this.#index = shardIndexOf(ctx.id.name);
    void ctx.blockConcurrencyWhile(() => this.#schedule());
    // Label names stored before the registry checked them are registered once, before any request.
    if (this.#state.families.size > 0 && this.#store.getState("registered") !== 3) {
      void ctx.blockConcurrencyWhile(async () => {
        const items: AdmitItem[] = [...this.#state.families.values()].map((f) => ({
          group: "",
          families: [{ name: f.name, type: f.type, labels: [...f.labelNames], keys: [] }],
          retype: [],
        }));
        try {
          const verdicts = await this.#registry().admit(Math.max(0, this.#index), items);
          verdicts.forEach((v, i) => {
            if ("error" in v) console.error(`shard ${this.#index}: registering stored family "${items[i]?.families[0]?.name}" failed: ${v.error.message}`);
          });
        } catch (error) {
          console.error(`shard ${this.#index}: registering stored families with the registry failed`, error);
        }
        this.#store.setState("registered", 3);
      });
    }
  }

  #registry() {
    return this.env.REGISTRY.getByName(REGISTRY_NAME);
  }

  get #exporting(): boolean {
    return (this.env.SECRET_PROM_ENDPOINT ?? "") !== "";
  }

  /** A write's limits: as its Worker is configured, else this object's own vars. */
  #limits(options: ApplyOptions): WriteLimits {
    return options.limits ?? limitsOf(this.env);
  }

  async #exclusive<T>(body: () => Promise<T>): Promise<T> {
    const previous = this.#lock;
    let release: () => void = () => undefined;
    this.#lock = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await body();
    } finally {
      release();
    }
  }

  /** Applies one write (whole or not at all); throws its error. */
  async apply(push: PreparedFamily[], options: ApplyOptions = { group: "", mode: "aggregate" }): Promise<ShardPushResult> {
    const [outcome] = await this.applyBatch([{ push, options }]);
    if (outcome === undefined) throw new GatewayError("Unavailable", "the shard returned no outcome; retry");
    if ("ok" in outcome) return outcome.ok;
    throw isErrorName(outcome.error.name) ? new GatewayError(outcome.error.name, outcome.error.message) : new Error(outcome.error.message);
  }

  /**
   * Applies several independent writes in one call (group commit): each is applied whole or not at
   * all, on its own, and the outcomes come back in order. Everything new to this shard is first
   * checked with the registry (one call), then every write is planned onto a stage, the stage is
   * written in one transaction, and only then applied to memory. If that transaction fails, each
   * write is retried in a transaction of its own, so one write storage refuses fails alone.
   */
  async applyBatch(items: WriteItem[]): Promise<Outcome[]> {
    this.#counters.writeCalls++;
    return this.#exclusive(async () => {
      const outcomes: (Outcome | undefined)[] = items.map(() => undefined);
      const admit = await this.#admit(items);
      const now = Date.now();
      const results: (PlanResult | undefined)[] = [];
      const stage = new Stage(this.#state);
      items.forEach((item, i) => {
        const verdict = admit.verdicts[i];
        if (verdict !== undefined && "error" in verdict) {
          outcomes[i] = this.#failed(verdict.error, item.options.group, verdict.error.reason);
          return;
        }
        try {
          results[i] = planWrite(this.#state, stage, item, this.#planContext(now, admit.retype[i], item.options));
        } catch (error) {
          outcomes[i] = this.#failed(errorData(error), item.options.group);
        }
      });
      let committed: CommitResult[] = [];
      try {
        if (!stage.empty) committed = [this.#commit(stage, now)];
        items.forEach((_, i) => {
          const r = results[i];
          if (r !== undefined && outcomes[i] === undefined) outcomes[i] = { ok: r };
        });
        this.#counters.accepted += stage.accepted;
        this.#counters.expired += stage.expired;
        this.#countNarrowed(stage);
      } catch (error) {
        // One write storage refused must not take the others with it: each on its own.
        console.error(`shard ${this.#index}: a batch's transaction failed (${String(error)}); applying its ${items.length} writes one by one`);
        committed = [];
        items.forEach((item, i) => {
          if (outcomes[i] !== undefined) return;
          const single = new Stage(this.#state);
          try {
            const r = planWrite(this.#state, single, item, this.#planContext(now, admit.retype[i], item.options));
            if (!single.empty) committed.push(this.#commit(single, now));
            this.#counters.accepted += single.accepted;
            this.#counters.expired += single.expired;
            this.#countNarrowed(single);
            outcomes[i] = { ok: r };
          } catch (e) {
            const storage = !(e instanceof GatewayError);
            outcomes[i] = this.#failed(
              storage ? { name: "Unavailable", message: `storage refused the write (${String(e)}); nothing of it was applied, retry or make it smaller` } : errorData(e),
              item.options.group,
            );
          }
        });
      }
      const emptied = committed.flatMap((c) => c.emptied);
      this.#afterCommit(committed, admit.admitted, outcomes, items.length === 1);
      // Only writes that can expire (a TTL, a cumulative source's last values) can move the next expiry.
      const expiring = items.some((i) => (i.options.ttlMs ?? 0) > 0 || i.options.source !== undefined || i.push.some((f) => f.ttls !== undefined));
      if (committed.length > 0 && expiring) await this.#schedule();
      return outcomes.map((o, i): Outcome => {
        if (o === undefined) return { error: { name: "Unavailable", message: "the write got no outcome; retry" } };
        if ("ok" in o && items[i]?.options.mode === "replace") return { ok: { ...o.ok, emptied } };
        return o;
      });
    });
  }

  #planContext(now: number, retype: ReadonlySet<string> | undefined, options: ApplyOptions) {
    return {
      now,
      limits: this.#limits(options),
      retypable: retype ?? new Set<string>(),
      sourceValue: (source: string, group: string, name: string, key: string) => this.#state.sources.get(sourceKey(source, group))?.series.get(name)?.get(key),
      groupSeries: (group: string) => this.#groupSeries(group),
    };
  }

  /** Every live series of a group in memory, by family name. */
  #groupSeries(key: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const group = this.#state.groups.get(key);
    if (group === undefined) return out;
    for (const chunk of group.chunks) {
      for (const [family, slots] of chunk.members) {
        let list = out.get(family.name);
        if (list === undefined) out.set(family.name, (list = []));
        for (const slot of slots) list.push(family.key(slot));
      }
    }
    return out;
  }

  #commit(stage: Stage, now: number): CommitResult {
    const result = commitStage(this.#state, this.#store, stage, {
      now,
      exporting: this.#exporting,
      transaction: (body) => this.ctx.storage.transactionSync(body),
    });
    // Kept rendered text lives within MAX_SHARD_BYTES with the series: series come first.
    const state = this.#state;
    if (state.renderedBytes > 0 && state.bytes + state.renderedBytes > limitsOf(this.env).maxBytes) state.forgetAllRendered();
    return result;
  }

  /**
   * Asks the registry about everything in the batch that is new to this shard (families, label
   * names, series); nothing is asked when nothing is new.
   */
  async #admit(items: WriteItem[]): Promise<{ verdicts: (AdmitVerdict | undefined)[]; retype: (Set<string> | undefined)[]; admitted: (LocalAdmit | undefined)[] }> {
    const admitted = items.map((item) => admissionOf(this.#state, item, this.#limits(item.options).maxSeriesPerFamily));
    const at = admitted.flatMap((a, i) => (a === undefined ? [] : [i]));
    const asked = at.map((i) => admitted[i]).filter((a): a is LocalAdmit => a !== undefined);
    const verdicts: (AdmitVerdict | undefined)[] = items.map(() => undefined);
    const retype: (Set<string> | undefined)[] = items.map(() => undefined);
    if (asked.length === 0) return { verdicts, retype, admitted };
    let answers: AdmitVerdict[];
    try {
      answers = await this.#registry().admit(Math.max(0, this.#index), forRegistry(asked));
    } catch (error) {
      const message = `the registry did not answer (${error instanceof Error ? error.message : String(error)}); nothing was applied, retry`;
      for (const i of at) verdicts[i] = { error: { name: "Unavailable", message, reason: "Unavailable" } };
      return { verdicts, retype, admitted: items.map(() => undefined) };
    }
    at.forEach((i, n) => {
      const answer = withSeriesNamed(answers[n], asked[n]);
      verdicts[i] = answer;
      // The registry drops retypes another shard forbids; what it kept comes back in the item.
      retype[i] = new Set(asked[n]?.retype ?? []);
      if (answer !== undefined && "error" in answer) admitted[i] = undefined;
    });
    return { verdicts, retype, admitted };
  }

  /** After a batch: tell the registry what this shard no longer holds, and what admitted writes did not become. */
  #afterCommit(committed: CommitResult[], admitted: (LocalAdmit | undefined)[], outcomes: (Outcome | undefined)[], alone = false): void {
    const { released, unclaimed } = releasesAfter(this.#state, committed, admitted, outcomes, alone);
    const registry = this.#registry();
    if (released.size > 0) {
      const index = Math.max(0, this.#index);
      void registry.release(index, [...released]).catch((e: unknown) => console.error(`shard ${this.#index}: telling the registry what it released failed`, e));
    }
    if (unclaimed.size > 0) void registry.releaseUnused([...unclaimed]).catch(() => undefined);
  }

  #failed(error: { name: string; message: string }, group: string, reason = error.name): Outcome {
    this.reject(reason, group);
    return { error: { name: error.name, message: error.message } };
  }

  #countNarrowed(stage: Stage): void {
    for (const [family, n] of stage.narrowed) this.#counters.narrowed.set(family, (this.#counters.narrowed.get(family) ?? 0) + n);
  }

  /**
   * Deletes series: `"__all"` everything, a name that family, with labels only the family's series
   * whose labels include every given pair. When an export is configured, each deleted series is
   * remembered so the next export sends its stale marker.
   */
  async remove(name: string, labels?: LabelPairs): Promise<ShardDeleteResult> {
    return this.#exclusive(async () => {
      const stage = new Stage(this.#state);
      const names = name === "__all" ? [...this.#state.families.keys()] : [name];
      let deleted = 0;
      for (const n of names) {
        const family = this.#state.families.get(n);
        if (family === undefined) continue;
        const f = stage.family(n);
        for (const key of family.slots.keys()) {
          if (labels !== undefined && labels.length > 0 && !includesAll(parseLabelKey(key), labels)) continue;
          stage.delete(f, key);
          deleted++;
        }
      }
      const result = stage.empty ? { emptied: [], removed: [], added: new Map() } : this.#commit(stage, Date.now());
      if (name === "__all") {
        this.#dropGroups([...this.#state.groups.values()].map((g) => g.key));
        // Everything includes what the gateway remembers of cumulative sources.
        const sources = [...this.#state.sources.values()];
        if (sources.length > 0) this.ctx.storage.transactionSync(() => sources.forEach((s) => this.#store.deleteSource(s.source, s.group)));
        this.#state.sources.clear();
      }
      this.#afterCommit([result], [], []);
      return { deleted, hashes: result.removed.map((r) => keyHash(`${r.family}\u0000${r.key}`)), emptied: result.emptied };
    });
  }

  /** Deletes a group: every series it holds here, and its push times (Pushgateway `DELETE /metrics/job/...`). */
  async removeGroup(key: string): Promise<ShardDeleteResult> {
    return this.#exclusive(async () => {
      const group = this.#state.groups.get(key);
      if (group === undefined) return { deleted: 0 };
      const stage = new Stage(this.#state);
      let deleted = 0;
      for (const [name, keys] of this.#groupSeries(key)) {
        const f = stage.family(name);
        for (const k of keys) {
          stage.delete(f, k);
          deleted++;
        }
      }
      const result = stage.empty ? { emptied: [], removed: [], added: new Map() } : this.#commit(stage, Date.now());
      this.#dropGroups([key]);
      this.#afterCommit([result], [], []);
      return { deleted, hashes: result.removed.map((r) => keyHash(`${r.family}\u0000${r.key}`)), emptied: result.emptied };
    });
  }

  /** Forgets groups (their push times) in storage and then memory. */
  #dropGroups(keys: string[]): void {
    const named = keys.filter((k) => k !== "" && this.#state.groups.has(k));
    if (named.length === 0) return;
    // The groups' push times were series of their own in every export: they are owed stale markers too.
    const now = Date.now();
    const stale: PackedSeries[] = this.#exporting
      ? named.flatMap((key) => [PUSH_TIME, PUSH_FAILURE_TIME].map((family) => ({ family, type: "gauge" as const, key, value: 0, updated: now, expires: 0 })))
      : [];
    let row: StaleRow | undefined;
    this.ctx.storage.transactionSync(() => {
      for (const k of named) this.#store.deleteGroup(k);
      if (stale.length > 0) row = this.#store.putStale(now, stale);
    });
    if (row !== undefined) this.#state.stale.push(row);
    for (const k of named) {
      const group = this.#state.groups.get(k);
      if (group !== undefined && group.series === 0) this.#state.dropGroup(group);
      else if (group !== undefined) {
        group.pushTime = 0;
        group.failureTime = 0;
      }
    }
  }

  /** The time of the alarm set, if any (kept in memory to save a storage read per write). */
  #alarmAt: number | null | undefined = undefined;

  /** How long a source's last values are kept without a push from it (SOURCE_TTL_SECONDS). */
  get #sourceTtlMs(): number {
    const n = Number(this.env.SOURCE_TTL_SECONDS ?? "3600");
    return Number.isFinite(n) && n > 0 ? n * 1000 : 3600_000;
  }

  /** Sets the alarm for the next expiry (the alarm handler sweeps). */
  async #schedule(): Promise<void> {
    const next = nextExpiry(this.#state, this.#sourceTtlMs);
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (next === undefined) return;
    if (this.#alarmAt !== null && this.#alarmAt <= next) return;
    await this.ctx.storage.setAlarm(next);
    this.#alarmAt = next;
  }

  /**
   * The alarm: removes what expired (series not written for their TTL, groups not pushed for
   * theirs, sources' last values past SOURCE_TTL_SECONDS), a bounded chunk per transaction with
   * the write lock released in between, so writes never wait for more than one chunk. Then sets
   * the alarm for the next expiry.
   */
  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    await this.sweep();
    await this.#schedule();
  }

  /** Removes what has expired (the alarm's work; also callable on its own). Returns the series removed. */
  async sweep(now = Date.now(), chunk = SWEEP_CHUNK): Promise<number> {
    let removed = 0;
    for (;;) {
      const n = await this.#exclusive(async () => this.#sweepChunk(now, chunk));
      if (n === 0) break;
      removed += n;
      // Let waiting requests in between chunks.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await this.#exclusive(async () => this.#sweepSources(now));
    this.#state.compactExpiry();
    return removed;
  }

  /** One chunk of expired series (their own TTL or their group's), deleted in one transaction. */
  #sweepChunk(now: number, max: number): number {
    const state = this.#state;
    const chunk = planSweep(state, now, max, (group) => this.#groupSeries(group));
    if (!chunk.stage.empty) {
      let result: CommitResult;
      try {
        result = this.#commit(chunk.stage, now);
      } catch (error) {
        // Storage refused: nothing was removed; the expiries stay due for the next sweep.
        for (const e of chunk.taken) state.expiry.push(e.at, e.family, e.key);
        throw error;
      }
      this.#afterCommit([result], [], []);
      if (result.emptied.length > 0) void this.#registry().releaseUnused(result.emptied).catch(() => undefined);
    }
    // A group whose every series went (and that was not pushed meanwhile) goes too, with its push times.
    this.#dropGroups(
      chunk.groups.filter((k) => {
        const g = state.groups.get(k);
        return g !== undefined && g.series === 0 && groupExpired(g, now);
      }),
    );
    this.#counters.expired += chunk.removed;
    return chunk.removed;
  }

  /** Forgets sources not heard from for SOURCE_TTL_SECONDS (the aggregate keeps what they added). */
  #sweepSources(now: number): void {
    const ttl = this.#sourceTtlMs;
    const old = [...this.#state.sources.entries()].filter(([, s]) => s.updated + ttl <= now);
    if (old.length === 0) return;
    this.ctx.storage.transactionSync(() => {
      for (const [, s] of old) this.#store.deleteSource(s.source, s.group);
    });
    for (const [id] of old) this.#state.sources.delete(id);
  }

  /** Forgets one source's last values (a Pushgateway DELETE naming it with SOURCE_LABEL). */
  async forgetSource(source: string, group: string): Promise<{ forgotten: number }> {
    return this.#exclusive(async () => {
      const id = sourceKey(source, group);
      const known = this.#state.sources.get(id);
      if (known === undefined) return { forgotten: 0 };
      this.ctx.storage.transactionSync(() => this.#store.deleteSource(source, group));
      this.#state.sources.delete(id);
      let n = 0;
      for (const m of known.series.values()) n += m.size;
      return { forgotten: n };
    });
  }

  /** Series tracked for cumulative sources, and sources (for the bench and the status views). */
  sourceStats(): { sources: number; series: number } {
    let series = 0;
    for (const s of this.#state.sources.values()) for (const m of s.series.values()) series += m.size;
    return { sources: this.#state.sources.size, series };
  }

  /** A page of series in (family, key) order (see src/aggregator/pages.ts). */
  read(request: PageRequest): Page {
    // Rendered text is kept only in the room MAX_SHARD_BYTES leaves beside the series.
    const budget = Math.min(RENDER_CACHE_BYTES, limitsOf(this.env).maxBytes - this.#state.bytes);
    return readPage(this.#state, { ...request, now: request.now > 0 ? request.now : Date.now() }, budget);
  }

  /** Counts and counters: the first step of a read. */
  catalog(): Catalog {
    const state = this.#state;
    this.#counters.rowsWritten = this.#store.rowsWritten;
    return {
      families: state.families.size,
      series: state.series,
      bytes: state.bytes,
      groups: state.groups.size - 1,
      counters: this.#counters,
      staleMarkers: state.stale.reduce((n, r) => n + r.count, 0),
      staleUpTo: state.stale.reduce((n, r) => Math.max(n, r.id), 0),
      ungrouped: state.group("").series,
      renderedBytes: state.renderedBytes,
    };
  }

  /** Named groups in key order, a page at a time. */
  groups(after: string | null, max = 5_000): { groups: GroupSummary[]; next: string | null } {
    const keys = [...this.#state.groups.keys()].filter((k) => k !== "" && (after === null || k > after)).sort();
    const page = keys.slice(0, max);
    const groups = page.map((k): GroupSummary => {
      const g = this.#state.groups.get(k);
      return [k, g?.pushTime ?? 0, g?.failureTime ?? 0, g?.ttlMs ?? 0, g?.series ?? 0, g?.families.size ?? 0];
    });
    return { groups, next: keys.length > max ? (page[page.length - 1] ?? null) : null };
  }

  /** Families in name order with this shard's series counts, a page at a time. */
  families(after: string | null, max = 2_000): { families: FamilySummary[]; next: string | null } {
    const names = this.#state.sortedNames();
    let i = 0;
    if (after !== null) while (i < names.length && (names[i] ?? "") <= after) i++;
    const out: FamilySummary[] = [];
    for (; i < names.length && out.length < max; i++) {
      const f = this.#state.families.get(names[i] ?? "");
      if (f !== undefined) out.push([f.name, f.type, f.help, f.unit, f.size]);
    }
    return { families: out, next: i < names.length ? (out[out.length - 1]?.[0] ?? null) : null };
  }

  /** For the registry's directory: per family name, the hashes of this shard's series by group. */
  directory(names: string[]): DirectoryPart[][] {
    return names.map((name) => {
      const family = this.#state.families.get(name);
      if (family === undefined) return [];
      const byGroup = new Map<string, number[]>();
      for (const [key, slot] of family.slots) {
        const g = this.#state.groupOf(family, slot).key;
        let list = byGroup.get(g);
        if (list === undefined) byGroup.set(g, (list = []));
        list.push(keyHash(key));
      }
      return [...byGroup].map(([group, hashes]) => ({ group, hashes }));
    });
  }

  /** For the registry: which group holds the series with each hash here (null: none). */
  lookup(name: string, hashes: number[]): (string | null)[] {
    const family = this.#state.families.get(name);
    if (family === undefined) return hashes.map(() => null);
    const wanted = new Map(hashes.map((h, i) => [h, i]));
    const out: (string | null)[] = hashes.map(() => null);
    for (const [key, slot] of family.slots) {
      const i = wanted.get(keyHash(key));
      if (i !== undefined) out[i] = this.#state.groupOf(family, slot).key;
    }
    return out;
  }

  /** For each `[family, key]`, whether this shard holds that series (live, not expired). */
  live(series: [family: string, key: string][]): boolean[] {
    const now = Date.now();
    return series.map(([name, key]) => {
      if (name === PUSH_TIME || name === PUSH_FAILURE_TIME) {
        const group = this.#state.groups.get(key);
        return group !== undefined && group.pushTime > 0 && !groupExpired(group, now);
      }
      const family = this.#state.families.get(name);
      const slot = family?.slot(key) ?? -1;
      return family !== undefined && slot >= 0 && !seriesExpired(this.#state, family, slot, now);
    });
  }

  /** For each name, the type this shard holds the family with, or null when it holds none of it. */
  typesOf(names: string[]): (MetricType | null)[] {
    return names.map((name) => this.#state.families.get(name)?.type ?? null);
  }

  /**
   * New HELP or UNIT text for families (another shard took a push with it; the registry passes it
   * on): a family held here takes it, so every shard shows the latest.
   */
  async setMeta(changes: [name: string, help: string | undefined, unit: string | undefined][]): Promise<void> {
    await this.#exclusive(async () => {
      const state = this.#state;
      const apply = changes.filter(([name, help, unit]) => {
        const f = state.families.get(name);
        return f !== undefined && ((help !== undefined && help !== f.help) || (unit !== undefined && unit !== f.unit));
      });
      if (apply.length === 0) return;
      const next = new Map(apply.map(([name, help, unit]) => [name, { help, unit }]));
      const plan = state.metaPacks.plan(next.keys(), []);
      this.ctx.storage.transactionSync(() => {
        for (const [id, names] of plan.touched) {
          this.#store.putFamilyMeta(
            id,
            names.flatMap((name) => {
              const f = state.families.get(name);
              const change = next.get(name);
              return f === undefined ? [] : [{ name, type: f.type, help: change?.help ?? f.help, unit: change?.unit ?? f.unit }];
            }),
          );
        }
      });
      state.metaPacks.apply(plan);
      for (const [name, help, unit] of apply) {
        const f = state.families.get(name);
        if (f === undefined) continue;
        if (help !== undefined) f.help = help;
        if (unit !== undefined) f.unit = unit;
      }
    });
  }

  /** For each name, whether this shard holds any series of that family. */
  holding(names: string[]): boolean[] {
    return names.map((name) => this.#state.families.has(name));
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

  /** Stale markers owed, a row at a time after row `after` (0: from the first), up to about `maxBytes`. */
  stale(after: number, maxBytes = 1024 * 1024, until = Number.MAX_SAFE_INTEGER): StalePage {
    const series: PackedSeries[] = [];
    let lastId = after;
    let bytes = 0;
    const rows = this.#state.stale.filter((r) => r.id > after && r.id <= until);
    let n = 0;
    for (const row of rows) {
      if (bytes >= maxBytes && series.length > 0) break;
      for (const s of this.#store.staleSeries(row.id)) {
        series.push(s);
        bytes += 40 + s.key.length * 2;
      }
      lastId = row.id;
      n++;
    }
    return { series, lastId, more: n < rows.length };
  }

  /**
   * Records an export run: on full success the stale markers this shard handed over (rows up to
   * `upTo`) are delivered. The run's counters are kept by shard 0 (`primary`).
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
    if (!report.ok || upTo <= 0) return;
    this.#store.deleteStaleUpTo(upTo);
    this.#state.stale = this.#state.stale.filter((r) => r.id > upTo);
  }

  /**
   * Counts a rejected write by reason; for a write to a known group, also records its failure time
   * (the Pushgateway's `push_failure_time_seconds`).
   */
  reject(reason: string, group?: string): void {
    if (reason === "family_cardinality" || (isErrorName(reason) && ERROR_STATUS[reason] < 500)) {
      this.#counters.rejected.set(reason, (this.#counters.rejected.get(reason) ?? 0) + 1);
    }
    const known = group === undefined || group === "" ? undefined : this.#state.groups.get(group);
    if (known !== undefined) {
      const now = Date.now();
      this.#store.putGroup({ key: known.key, push_time: known.pushTime, failure_time: now, ttl_ms: known.ttlMs });
      known.failureTime = now;
    }
  }

  /** Answers when the object is up and its storage readable (for `/-/ready`). */
  ping(): { families: number; series: number } {
    return { families: this.#state.families.size, series: this.#state.series };
  }

  /**
   * Rebuilds the state from storage and lists every difference from memory (none, always: a test
   * hook for the invariant "memory equals what a restart rebuilds").
   */
  verify(): string[] {
    return diffStates(this.#state, loadState(new Store(this.ctx.storage.sql)));
  }
}

function errorData(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}

