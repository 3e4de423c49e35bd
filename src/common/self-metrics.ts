/** The gateway's own metrics (`metrics_gateway_*`), in every scrape and every remote-write export. */
import type { ErrorName } from "./errors";
import { renderFamily, type SeriesValue } from "../wire/exposition/format";
import { renderPair } from "./labels";
import type { MetricType } from "./model";
import type { AttemptOutcome, SendResult } from "../wire/remote-write/send";

/** In-memory counters of an aggregator; they restart from zero with the object, as process counters do. */
export interface Counters {
  accepted: number;
  /** Write calls the shard received (one per group-commit batch). */
  writeCalls: number;
  rejected: Map<string, number>;
  /** SQLite rows written since the shard started (Cloudflare bills Durable Objects by rows written). */
  rowsWritten: number;
  /** Histogram merges over the intersection of two bucket layouts, by family. */
  narrowed: Map<string, number>;
  /** Series removed because they were not written for their TTL. */
  expired: number;
  export: ExportCounters;
}

export interface ExportCounters {
  samplesSent: number;
  samplesFailed: number;
  attempts: Record<AttemptOutcome, number>;
  retries: number;
  dropped: Map<string, number>;
  /** Seconds since the epoch of the last run whose every request succeeded; 0 before the first. */
  lastSuccessSeconds: number;
  lastDurationSeconds: number;
  /** When the last run ran (ms since the epoch, 0: never) and whether every request of it succeeded. */
  lastRunMs: number;
  lastRunOk: boolean;
}

export function newCounters(): Counters {
  return {
    accepted: 0,
    writeCalls: 0,
    rejected: new Map(),
    rowsWritten: 0,
    narrowed: new Map(),
    expired: 0,
    export: {
      samplesSent: 0,
      samplesFailed: 0,
      attempts: { success: 0, client_error: 0, server_error: 0, rate_limited: 0, network_error: 0 },
      retries: 0,
      dropped: new Map(),
      lastSuccessSeconds: 0,
      lastDurationSeconds: 0,
      lastRunMs: 0,
      lastRunOk: false,
    },
  };
}

/** Rejection reasons a client can cause; each is exposed from zero so alerts can rate() them at once. */
const REASONS: readonly (ErrorName | "family_cardinality")[] = [
  "BadRequest",
  "Conflict",
  "InvalidName",
  "InvalidValue",
  "LimitExceeded",
  "ParseError",
  "TypeConflict",
  "UnsupportedMediaType",
  "family_cardinality",
];

/** Why the export drops a series; exposed from zero likewise. */
const DROP_REASONS = ["duplicate_label", "invalid_name", "invalid_value", "malformed_key"];

export interface SelfStats {
  families: number;
  series: number;
  counters: Counters;
  /** Series this scrape left out because its format cannot carry them, by reason (scrapes only). */
  omitted?: Readonly<Record<string, number | undefined>>;
  /** Series of this scrape whose histogram layouts differed between shards, by family (scrapes only). */
  narrowed?: ReadonlyMap<string, number>;
}

/** A self-metric family with its series in output order. */
export interface SelfFamily {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  series: [string, SeriesValue][];
}

/** The self-metric families, sorted by name. */
export function selfFamilies(stats: SelfStats): SelfFamily[] {
  const { counters } = stats;
  const ex = counters.export;
  const byLabel = (label: string, keys: Iterable<string>, get: (k: string) => number): [string, number][] =>
    [...new Set(keys)].sort().map((k) => [renderPair(label, k), get(k)]);
  const family = (name: string, type: MetricType, help: string, series: [string, SeriesValue][]): SelfFamily => ({ name, type, help, unit: "", series });
  return [
    family("metrics_gateway_families", "gauge", "Metric families stored.", [["", stats.families]]),
    family("metrics_gateway_pushes_accepted_total", "counter", "Writes (HTTP pushes and RPC calls) applied, since the aggregator started.", [["", counters.accepted]]),
    family(
      "metrics_gateway_pushes_rejected_total",
      "counter",
      "Writes rejected, by reason (the error name), since the aggregator started.",
      byLabel("reason", [...REASONS, ...counters.rejected.keys()], (r) => counters.rejected.get(r) ?? 0),
    ),
    family(
      "metrics_gateway_write_calls_total",
      "counter",
      "Write calls the aggregator shards received; with group commit one call carries many writes.",
      [["", counters.writeCalls]],
    ),
    family(
      "metrics_gateway_remote_write_last_run_duration_seconds",
      "gauge",
      "Duration of the last remote-write export run.",
      [["", ex.lastDurationSeconds]],
    ),
    family(
      "metrics_gateway_remote_write_last_success_timestamp_seconds",
      "gauge",
      "When the last export run whose every request succeeded ran (0: never).",
      [["", ex.lastSuccessSeconds]],
    ),
    family(
      "metrics_gateway_remote_write_requests_total",
      "counter",
      "Remote-write HTTP attempts, by outcome.",
      byLabel("outcome", Object.keys(ex.attempts), (o) => ex.attempts[o as AttemptOutcome]),
    ),
    family("metrics_gateway_remote_write_retries_total", "counter", "Remote-write attempts that were retried.", [["", ex.retries]]),
    family("metrics_gateway_remote_write_samples_total", "counter", "Remote-write samples, by outcome of their request.", [
      [renderPair("outcome", "failure"), ex.samplesFailed],
      [renderPair("outcome", "success"), ex.samplesSent],
    ]),
    family(
      "metrics_gateway_remote_write_series_dropped_total",
      "counter",
      "Series left out of an export because a receiver would reject them, by reason.",
      byLabel("reason", [...DROP_REASONS, ...ex.dropped.keys()], (r) => ex.dropped.get(r) ?? 0),
    ),
    family("metrics_gateway_series", "gauge", "Series stored.", [["", stats.series]]),
    family("metrics_gateway_series_expired_total", "counter", "Series removed because they were not written for their TTL (or their group not pushed), since the shards started.", [
      ["", counters.expired],
    ]),
    family(
      "metrics_gateway_storage_rows_written_total",
      "counter",
      "SQLite rows the aggregator shards wrote since they started (Durable Objects are billed by rows written).",
      [["", counters.rowsWritten]],
    ),
  ]
    .concat(
      counters.narrowed.size === 0
        ? []
        : [
            family(
              "metrics_gateway_histogram_layout_narrowed_total",
              "counter",
              "Histogram merges of two bucket layouts over the bounds both have (a deploy changed the buckets), by family.",
              byLabel("family", counters.narrowed.keys(), (f) => counters.narrowed.get(f) ?? 0),
            ),
          ],
    )
    .concat(
      stats.narrowed === undefined || stats.narrowed.size === 0
        ? []
        : [
            family(
              "metrics_gateway_scrape_narrowed_series",
              "gauge",
              "Series of this scrape whose histogram bucket layouts differed between shards, merged over the bounds both have, by family (a deploy changed the buckets).",
              byLabel("family", stats.narrowed.keys(), (f) => stats.narrowed?.get(f) ?? 0),
            ),
          ],
    )
    .concat(
      stats.omitted === undefined
        ? []
        : [
            family(
              "metrics_gateway_scrape_omitted_series",
              "gauge",
              "Series this scrape left out because its format (or name escaping) cannot carry them, by reason; the other format may carry them.",
              byLabel("reason", Object.keys(stats.omitted), (r) => stats.omitted?.[r] ?? 0),
            ),
          ],
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The self-metric families as exposition text. */
export function renderSelfMetrics(stats: SelfStats, openmetrics: boolean): string {
  return selfFamilies(stats)
    .map((f) => renderFamily(f, openmetrics))
    .join("");
}

/** The Pushgateway's per-group push times (seconds), the latest per group across shards, sorted by group. */
export function pushTimeFamilies(perShard: readonly (readonly [string, number, number][])[]): SelfFamily[] {
  const groups = new Map<string, [number, number]>();
  for (const list of perShard) {
    for (const [key, push, failure] of list) {
      const seen = groups.get(key);
      groups.set(key, [Math.max(seen?.[0] ?? 0, push), Math.max(seen?.[1] ?? 0, failure)]);
    }
  }
  if (groups.size === 0) return [];
  const keys = [...groups.keys()].sort();
  const family = (name: string, help: string, pick: 0 | 1): SelfFamily => ({
    name,
    type: "gauge",
    help,
    unit: "",
    series: keys.map((k) => [k, (groups.get(k)?.[pick] ?? 0) / 1000]),
  });
  return [
    family("push_failure_time_seconds", "Last Unix time when changing this group failed.", 1),
    family("push_time_seconds", "Last Unix time when changing this group succeeded.", 0),
  ];
}

/** What an export run reports back to the aggregator shards. */
export interface ExportReport extends SendResult {
  timestampMs: number;
  dropped: Record<string, number>;
  durationMs: number;
}
