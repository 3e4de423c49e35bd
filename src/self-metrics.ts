/** The gateway's own metrics (`metrics_gateway_*`), rendered into every scrape. */
import type { ErrorName } from "./errors";
import { renderFamily, type FamilyView } from "./exposition/format";
import { renderPair } from "./labels";

/** In-memory counters of an aggregator; they restart from zero with the object, as process counters do. */
export interface Counters {
  accepted: number;
  rejected: Map<string, number>;
}

/** Rejection reasons a client can cause; each is exposed from zero so alerts can rate() them at once. */
const REASONS: readonly ErrorName[] = [
  "BadRequest",
  "InvalidName",
  "InvalidValue",
  "LimitExceeded",
  "ParseError",
  "TypeConflict",
  "UnsupportedMediaType",
];

export interface SelfStats {
  families: number;
  series: number;
  counters: Counters;
}

/** The self-metric families, by name, as exposition text. */
export function renderSelfMetrics(stats: SelfStats, openmetrics: boolean): string {
  const reasons = new Set<string>([...REASONS, ...stats.counters.rejected.keys()]);
  const families: FamilyView[] = [
    {
      name: "metrics_gateway_families",
      type: "gauge",
      help: "Metric families stored.",
      unit: "",
      series: [["", stats.families]],
    },
    {
      name: "metrics_gateway_pushes_accepted_total",
      type: "counter",
      help: "Writes (HTTP pushes and RPC calls) applied, since the aggregator started.",
      unit: "",
      series: [["", stats.counters.accepted]],
    },
    {
      name: "metrics_gateway_pushes_rejected_total",
      type: "counter",
      help: "Writes rejected, by reason (the error name), since the aggregator started.",
      unit: "",
      series: [...reasons].sort().map((r) => [renderPair("reason", r), stats.counters.rejected.get(r) ?? 0] as const),
    },
    {
      name: "metrics_gateway_series",
      type: "gauge",
      help: "Series stored.",
      unit: "",
      series: [["", stats.series]],
    },
  ];
  return families.map((f) => renderFamily(f, openmetrics)).join("");
}
