/** The operators' JSON API, shaped like the Pushgateway's `/api/v1/metrics` and `/api/v1/status`. */
import { parseLabelKey } from "../common/labels";
import type { MetricType } from "../common/model";
import { VERSION } from "../common/version";
import { formatFloat, type SeriesValue } from "../wire/exposition/format";
import { redactEndpoint } from "../wire/remote-write/send";
import { mergedRuns } from "./merge-pages";
import type { GroupStatus, StatusData } from "./reads";

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const TYPE_NAMES: Record<MetricType, string> = { counter: "COUNTER", gauge: "GAUGE", histogram: "HISTOGRAM", summary: "SUMMARY", untyped: "UNTYPED" };
const PUSH_TIME_HELP = "Last Unix time when changing this group succeeded.";
const PUSH_FAILURE_TIME_HELP = "Last Unix time when changing this group failed.";

/**
 * `GET /api/v1/metrics`: the groups with their families and series, as the Pushgateway returns
 * them (one object per group with its `labels`, push times and one entry per family), streamed a
 * group at a time and each group's series a page at a time.
 */
export async function* pushgatewayMetrics(env: Env, shards: number, groups: readonly GroupStatus[]): AsyncGenerator<string> {
  yield '{"status":"success","data":[';
  let firstGroup = true;
  for (const group of groups) {
    const labels = pairsObject(parseLabelKey(group.key));
    const at = new Date(group.pushTime).toISOString();
    let head = `${firstGroup ? "" : ","}{"labels":${JSON.stringify(labels)},"last_push_successful":${group.failureTime <= group.pushTime}`;
    if (group.key !== "") {
      head += `,"push_time_seconds":${JSON.stringify({ time_stamp: at, type: "GAUGE", help: PUSH_TIME_HELP, metrics: [{ labels, value: formatFloat(group.pushTime / 1000) }] })}`;
      head += `,"push_failure_time_seconds":${JSON.stringify({ time_stamp: at, type: "GAUGE", help: PUSH_FAILURE_TIME_HELP, metrics: [{ labels, value: formatFloat(group.failureTime / 1000) }] })}`;
    }
    yield head;
    firstGroup = false;
    let open = false;
    for await (const run of mergedRuns(env, shards, { what: "api", group: group.key })) {
      if (run.family.name === "push_time_seconds" || run.family.name === "push_failure_time_seconds") continue;
      let out = "";
      if (run.first) {
        if (open) out += "]}";
        out += `,${JSON.stringify(run.family.name)}:{"time_stamp":${JSON.stringify(at)},"type":"${TYPE_NAMES[run.family.type]}","help":${JSON.stringify(run.family.help)},"metrics":[`;
        open = true;
      } else out += ",";
      const { keys, values, from, to } = run.series;
      for (let i = from; i < to; i++) out += `${i === from ? "" : ","}${JSON.stringify(seriesJson(run.family.type, keys[i] ?? "", values[i] ?? NaN))}`;
      yield out;
    }
    yield `${open ? "]}" : ""}}`;
  }
  yield "]}\n";
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

/** `GET /api/v1/status`: version, what is stored, limits, the biggest families, and the export's state. */
export function apiStatus(status: StatusData, env: Env): Json {
  const ex = status.counters.export;
  const endpoint = (env.SECRET_PROM_ENDPOINT ?? "").trim();
  return {
    status: "success",
    data: {
      version: VERSION,
      families: status.families.length,
      series: status.series,
      groups: status.groups.filter((g) => g.key !== "").length,
      shards: status.shards,
      bytes: status.bytes,
      top_families: status.top.map((f) => ({ name: f.name, type: f.type, series: f.series })),
      histogram_layouts_narrowed: Object.fromEntries([...status.counters.narrowed].sort()),
      series_expired: status.counters.expired,
      limits: {
        max_body_bytes: Number(env.MAX_BODY_BYTES),
        max_series_per_shard: Number(env.MAX_SERIES),
        max_shard_bytes: Number(env.MAX_SHARD_BYTES),
        max_series_per_family: Number(env.MAX_SERIES_PER_FAMILY),
        series_ttl_seconds: Number(env.SERIES_TTL_SECONDS),
      },
      remote_write: {
        configured: endpoint !== "",
        // Scheme and host only: endpoints often carry credentials in their path or query.
        endpoint: endpoint === "" ? null : redactEndpoint(endpoint),
        last_run_timestamp_seconds: ex.lastRunMs / 1000,
        last_run_successful: ex.lastRunOk,
        last_success_timestamp_seconds: ex.lastSuccessSeconds,
        last_run_duration_seconds: ex.lastDurationSeconds,
        samples_sent: ex.samplesSent,
        samples_failed: ex.samplesFailed,
        pending_stale_markers: status.staleMarkers,
      },
    },
  };
}
