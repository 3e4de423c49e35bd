/**
 * The aggregator Durable Object: holds every series in SQLite (one row each) with an in-memory
 * index rebuilt on start, applies pushes atomically and renders the exposition.
 */
import { DurableObject } from "cloudflare:workers";
import type { DeleteResult, ExpositionFormat, PushResult } from "../rpc";
import { ERROR_STATUS, GatewayError, isErrorName, type ErrorName } from "./errors";
import { renderFamily, type SeriesValue } from "./exposition/format";
import { includesAll, parseLabelKey } from "./labels";
import { merge, type PreparedFamily } from "./merge";
import type { LabelPairs, MetricType } from "./model";
import type { ExportReport, ExportSnapshot } from "./export";
import type { StaleSeries } from "./remote-write/write-request";
import { newCounters, renderSelfMetrics, selfFamilies, type Counters } from "./self-metrics";
import { Store, valueOf } from "./store";

interface FamilyState {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  series: Map<string, SeriesValue>;
  /** Label keys in output order; null when a series was added or removed since. */
  sorted: string[] | null;
  /** Rendered text 0.0.4 and OpenMetrics; null when anything in the family changed since. */
  text: string | null;
  openmetrics: string | null;
}

export class Aggregator extends DurableObject<Env> {
  readonly #store: Store;
  readonly #families = new Map<string, FamilyState>();
  #seriesCount = 0;
  #sortedNames: string[] | null = null;
  readonly #counters: Counters = newCounters();
  /** `family \0 key` of every series owed a stale marker (mirrors the `tombstones` table). */
  readonly #tombstoned = new Set<string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // SQL calls are synchronous, so the index is complete before the first request is delivered.
    this.#store = new Store(ctx.storage.sql);
    for (const row of this.#store.families()) {
      this.#families.set(row.name, { ...row, series: new Map(), sorted: null, text: null, openmetrics: null });
    }
    for (const row of this.#store.series()) {
      const family = this.#families.get(row.family);
      if (family === undefined) continue;
      family.series.set(row.labels, valueOf(row));
      this.#seriesCount++;
    }
    for (const row of this.#store.tombstones()) this.#tombstoned.add(`${row.family}\0${row.labels}`);
    this.#counters.export.lastSuccessSeconds = (this.#store.getState("last_success_ms") ?? 0) / 1000;
  }

  /** Deleted series are remembered for a stale marker only when there is an export to send it. */
  get #exporting(): boolean {
    return (this.env.SECRET_PROM_ENDPOINT ?? "") !== "";
  }

  /**
   * Applies a prepared push whole or not at all: every family and series is checked and merged
   * first, then written in one transaction, and only then made visible in memory.
   */
  apply(push: PreparedFamily[]): PushResult {
    try {
      return this.#apply(push);
    } catch (error) {
      this.#countRejection(error);
      throw error;
    }
  }

  #apply(push: PreparedFamily[]): PushResult {
    const merged: SeriesValue[][] = [];
    let added = 0;
    let series = 0;
    for (const family of push) {
      const state = this.#families.get(family.name);
      if (state !== undefined && state.type !== family.type) {
        throw new GatewayError(
          "TypeConflict",
          `metric "${family.name}": pushed as ${family.type} but stored as ${state.type}; push it as ${state.type}, or delete it first (DELETE /metrics/${family.name})`,
        );
      }
      const values: SeriesValue[] = [];
      for (let i = 0; i < family.keys.length; i++) {
        const key = family.keys[i] ?? "";
        const stored = state?.series.get(key);
        if (stored === undefined) added++;
        values.push(merge(family.type, stored, family.values[i] ?? NaN, `metric "${family.name}{${key}}"`));
      }
      series += family.keys.length;
      merged.push(values);
    }
    const max = Number(this.env.MAX_SERIES);
    if (added > 0 && this.#seriesCount + added > max) {
      throw new GatewayError(
        "LimitExceeded",
        `the push adds ${added} series to the ${this.#seriesCount} stored, over the limit of ${max} (MAX_SERIES); delete unused series or raise MAX_SERIES`,
      );
    }

    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      push.forEach((family, f) => {
        const state = this.#families.get(family.name);
        if (state === undefined || (family.help !== "" && family.help !== state.help) || (family.unit !== "" && family.unit !== state.unit)) {
          this.#store.putFamily({
            name: family.name,
            type: family.type,
            help: family.help !== "" ? family.help : (state?.help ?? ""),
            unit: family.unit !== "" ? family.unit : (state?.unit ?? ""),
          });
        }
        const values = merged[f] ?? [];
        family.keys.forEach((key, i) => {
          this.#store.putSeries(family.name, key, values[i] ?? NaN, now);
          if (this.#tombstoned.size > 0 && this.#tombstoned.has(`${family.name}\0${key}`)) this.#store.clearTombstone(family.name, key);
        });
      });
    });
    if (this.#tombstoned.size > 0) for (const family of push) for (const key of family.keys) this.#tombstoned.delete(`${family.name}\0${key}`);

    push.forEach((family, f) => {
      let state = this.#families.get(family.name);
      if (state === undefined) {
        state = { name: family.name, type: family.type, help: "", unit: "", series: new Map(), sorted: null, text: null, openmetrics: null };
        this.#families.set(family.name, state);
        this.#sortedNames = null;
      }
      if (family.help !== "") state.help = family.help;
      if (family.unit !== "") state.unit = family.unit;
      const values = merged[f] ?? [];
      const before = state.series.size;
      family.keys.forEach((key, i) => state.series.set(key, values[i] ?? NaN));
      if (state.series.size !== before) state.sorted = null;
      state.text = null;
      state.openmetrics = null;
    });
    this.#seriesCount += added;
    this.#counters.accepted++;
    return { families: push.length, series };
  }

  /**
   * Deletes series: `"__all"` everything, a name that family, with labels only the family's series
   * whose labels include every given pair. A family left without series is removed. When an export
   * is configured, each deleted series is remembered so the next export sends its stale marker.
   */
  remove(name: string, labels?: LabelPairs): DeleteResult {
    const doomed: [FamilyState, string[]][] = [];
    if (name === "__all") {
      for (const state of this.#families.values()) doomed.push([state, [...state.series.keys()]]);
    } else {
      const state = this.#families.get(name);
      if (state === undefined) return { deleted: 0 };
      const keys = [...state.series.keys()];
      doomed.push([state, labels === undefined || labels.length === 0 ? keys : keys.filter((k) => includesAll(parseLabelKey(k), labels))]);
    }
    let deleted = 0;
    for (const [, keys] of doomed) deleted += keys.length;
    if (deleted === 0) return { deleted: 0 };

    const now = Date.now();
    const exporting = this.#exporting;
    this.ctx.storage.transactionSync(() => {
      if (name === "__all") this.#store.deleteAll();
      for (const [state, keys] of doomed) {
        const whole = keys.length === state.series.size;
        if (whole && name !== "__all") this.#store.deleteFamily(state.name);
        for (const key of keys) {
          if (!whole) this.#store.deleteSeries(state.name, key);
          const value = state.series.get(key);
          if (exporting && value !== undefined) this.#store.putTombstone(state.name, state.type, key, value, now);
        }
      }
    });

    for (const [state, keys] of doomed) {
      for (const key of keys) {
        state.series.delete(key);
        if (exporting) this.#tombstoned.add(`${state.name}\0${key}`);
      }
      if (state.series.size === 0) {
        this.#families.delete(state.name);
        this.#sortedNames = null;
      } else {
        state.sorted = null;
        state.text = null;
        state.openmetrics = null;
      }
    }
    this.#seriesCount -= deleted;
    return { deleted };
  }

  /** Everything stored plus the gateway's own metrics, families by name and series by labels. */
  render(format: ExpositionFormat): string {
    const openmetrics = format === "openmetrics";
    const self = renderSelfMetrics({ families: this.#families.size, series: this.#seriesCount, counters: this.#counters }, openmetrics);
    if (this.#sortedNames === null) this.#sortedNames = [...this.#families.keys()].sort(compare);
    const parts: string[] = [];
    let selfDone = false;
    for (const name of this.#sortedNames) {
      if (!selfDone && name > "metrics_gateway_") {
        parts.push(self);
        selfDone = true;
      }
      const state = this.#families.get(name);
      if (state !== undefined) parts.push(this.#renderCached(state, openmetrics));
    }
    if (!selfDone) parts.push(self);
    if (openmetrics) parts.push("# EOF\n");
    return parts.join("");
  }

  #renderCached(state: FamilyState, openmetrics: boolean): string {
    const cached = openmetrics ? state.openmetrics : state.text;
    if (cached !== null) return cached;
    if (state.sorted === null) state.sorted = [...state.series.keys()].sort(compare);
    const keys = state.sorted;
    const series = state.series;
    const text = renderFamily(
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
    return text;
  }

  /**
   * A copy of every series and every pending stale marker for the export, taken in one synchronous
   * step (so it is consistent) and handed to the Worker, which encodes and sends it while this object
   * goes on taking writes. The sample time is `scheduledTime`, moved past the previous run's when
   * needed, so per series timestamps strictly increase from one run to the next.
   */
  snapshot(scheduledTime: number): ExportSnapshot {
    const last = this.#store.getState("last_export_ms") ?? 0;
    const timestampMs = Math.max(Math.floor(scheduledTime), last + 1);
    this.#store.setState("last_export_ms", timestampMs);
    const families: ExportSnapshot["families"] = [];
    for (const state of this.#families.values()) {
      families.push({ name: state.name, type: state.type, help: state.help, unit: state.unit, series: [...state.series] });
    }
    families.push(...selfFamilies({ families: this.#families.size, series: this.#seriesCount, counters: this.#counters }));
    const stale: StaleSeries[] = this.#store.tombstones().map((row) => ({ family: row.family, type: row.type, key: row.labels, value: valueOf(row) }));
    return { families, stale, timestampMs, upTo: Date.now() };
  }

  /** Records an export run: its counters, and on full success the stale markers it delivered. */
  exported(report: ExportReport): void {
    const ex = this.#counters.export;
    ex.samplesSent += report.samplesSent;
    ex.samplesFailed += report.samplesFailed;
    ex.retries += report.retries;
    for (const [outcome, n] of Object.entries(report.attempts) as [keyof typeof ex.attempts, number][]) ex.attempts[outcome] += n;
    for (const [reason, n] of Object.entries(report.dropped)) ex.dropped.set(reason, (ex.dropped.get(reason) ?? 0) + n);
    ex.lastDurationSeconds = report.durationMs / 1000;
    if (!report.ok) return;
    ex.lastSuccessSeconds = report.timestampMs / 1000;
    this.ctx.storage.transactionSync(() => {
      this.#store.setState("last_success_ms", report.timestampMs);
      this.#store.clearTombstonesUpTo(report.upTo);
    });
    this.#tombstoned.clear();
    for (const row of this.#store.tombstones()) this.#tombstoned.add(`${row.family}\0${row.labels}`);
  }

  /** Counts a push rejected before it reached this object (parse errors, size limits). */
  reject(reason: string): void {
    if (isErrorName(reason) && ERROR_STATUS[reason] < 500) {
      this.#counters.rejected.set(reason, (this.#counters.rejected.get(reason) ?? 0) + 1);
    }
  }

  #countRejection(error: unknown): void {
    if (error instanceof Error) this.reject(error.name);
  }

  /** Answers when the object is up and its storage readable (for `/-/ready`). */
  ping(): { families: number; series: number } {
    return { families: this.#families.size, series: this.#seriesCount };
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type { ErrorName };
