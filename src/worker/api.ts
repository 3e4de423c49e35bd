/** The operators' JSON API, shaped like the Pushgateway's `/api/v1/metrics` and `/api/v1/status`. */
import type { GroupView, StatusView } from "../aggregator/aggregator";
import { formatFloat, type SeriesValue } from "../wire/exposition/format";
import { parseLabelKey } from "../common/labels";
import type { MetricType } from "../common/model";
import { VERSION } from "../common/version";

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const TYPE_NAMES: Record<MetricType, string> = { counter: "COUNTER", gauge: "GAUGE", histogram: "HISTOGRAM", summary: "SUMMARY", untyped: "UNTYPED" };

/**
 * Groups with their families and series, as the Pushgateway's `GET /api/v1/metrics` returns them:
 * one object per group with its `labels`, push times and one entry per family.
 */
export function pushgatewayMetrics(status: StatusView): Json {
  return { status: "success", data: status.groups.map(groupJson) };
}

function groupJson(group: GroupView): Json {
  const labels = pairsObject(parseLabelKey(group.key));
  const out: { [key: string]: Json } = {
    labels,
    last_push_successful: group.failureTime <= group.pushTime,
  };
  const at = (ms: number) => new Date(ms).toISOString();
  if (group.key !== "") {
    out.push_time_seconds = { time_stamp: at(group.pushTime), type: "GAUGE", help: "Last Unix time when changing this group succeeded.", metrics: [{ labels, value: formatFloat(group.pushTime / 1000) }] };
    out.push_failure_time_seconds = {
      time_stamp: at(group.pushTime),
      type: "GAUGE",
      help: "Last Unix time when changing this group failed.",
      metrics: [{ labels, value: formatFloat(group.failureTime / 1000) }],
    };
  }
  for (const family of group.families) {
    out[family.name] = {
      time_stamp: at(group.pushTime),
      type: TYPE_NAMES[family.type],
      help: family.help,
      metrics: family.series.map(([key, value]) => seriesJson(family.type, key, value)),
    };
  }
  return out;
}

function seriesJson(type: MetricType, key: string, value: SeriesValue): Json {
  const labels = pairsObject(parseLabelKey(key));
  if (typeof value === "number") return { labels, value: formatFloat(value) };
  const n = (value.length - 2) >> 1;
  const points: { [key: string]: Json } = {};
  for (let i = 0; i < n; i++) points[formatFloat(value[2 + i] ?? NaN)] = formatFloat(value[2 + n + i] ?? NaN);
  const out: { [key: string]: Json } = { labels };
  out[type === "histogram" ? "buckets" : "quantiles"] = points;
  out.count = formatFloat(value[1] ?? NaN);
  out.sum = formatFloat(value[0] ?? NaN);
  return out;
}

function pairsObject(pairs: string[]): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (let i = 0; i < pairs.length; i += 2) out[pairs[i] ?? ""] = pairs[i + 1] ?? "";
  return out;
}

/** `GET /api/v1/status`: version, what is stored, limits, and the remote-write export's state. */
export function apiStatus(status: StatusView, env: Env): Json {
  return {
    status: "success",
    data: {
      version: VERSION,
      families: status.families,
      series: status.series,
      groups: status.groups.filter((g) => g.key !== "").length,
      limits: { max_body_bytes: Number(env.MAX_BODY_BYTES), max_series: Number(env.MAX_SERIES) },
      remote_write: {
        configured: (env.SECRET_PROM_ENDPOINT ?? "") !== "",
        last_run_timestamp_seconds: status.remoteWrite.lastRunMs / 1000,
        last_run_successful: status.remoteWrite.lastRunOk,
        last_success_timestamp_seconds: status.remoteWrite.lastSuccessSeconds,
        last_run_duration_seconds: status.remoteWrite.lastDurationSeconds,
        samples_sent: status.remoteWrite.samplesSent,
        samples_failed: status.remoteWrite.samplesFailed,
        pending_stale_markers: status.remoteWrite.pendingStaleMarkers,
      },
    },
  };
}
