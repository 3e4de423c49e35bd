/**
 * The typed contract of metrics-gateway for sibling Workers: interfaces and payload types only.
 *
 * A caller binds the gateway as a service (`[[services]] binding = "METRICS", service = "metrics-gateway"`)
 * and types the binding as `Service<MetricsGateway>`; every method is then a typed RPC call.
 *
 * @example
 * ```ts
 * import type { MetricsGateway } from "metrics-gateway/rpc";
 * interface Env { METRICS: Service<MetricsGateway> }
 * await env.METRICS.inc("orders_total", { plan: "pro" });
 * ```
 */

/** Label names to values. Names follow Prometheus rules; `__`-prefixed names are reserved. */
export type Labels = Record<string, string>;

/** Exposition formats the gateway reads and writes. */
export type ExpositionFormat = "text" | "openmetrics";

/**
 * How names outside the legacy Prometheus charset (`a.b`, `k8s.pod`) are written in a scrape:
 * `allow-utf-8` quotes them (only Prometheus 3 reads that); `underscores` (default) writes
 * `a_b`; `dots` and `values` as prometheus/common's `model.EscapeName` does.
 */
export type EscapingScheme = "allow-utf-8" | "underscores" | "dots" | "values";

/** Options every write takes. */
export interface WriteOptions {
  /**
   * Seconds after which the series expire if not written again (0: never); the gateway's
   * `SERIES_TTL_SECONDS` when absent. For a push to a group, the group expires as a whole that long
   * after its last push.
   */
  ttlSeconds?: number;
}

/**
 * How a push meets what its group holds: `aggregate` (default) merges with the aggregation rules,
 * `replace` makes the group hold exactly this push (the Pushgateway's PUT).
 */
export type PushMode = "aggregate" | "replace";

export interface PushOptions extends WriteOptions {
  /**
   * The body's media type: `text/plain; version=0.0.4` (default) or `application/openmetrics-text`.
   * A body ending in `# EOF` is read as OpenMetrics when no content type is given.
   */
  contentType?: string;
  /**
   * A Pushgateway grouping key, e.g. `{ job: "nightly", instance: "db1" }`: its labels are added to
   * every series (replacing same-named ones). Without it, the push joins the ungrouped group.
   */
  group?: Labels;
  /** Default `aggregate`. */
  mode?: PushMode;
  /**
   * The body holds totals a long-lived process keeps (its whole registry, pushed again and again):
   * name the process here, and the gateway adds only each series' increase since that source's
   * previous push (a value lower than before means the process restarted: it counts whole).
   * Gauges and summary quantiles are replaced as usual. With `mode: "replace"` the increases count
   * the same way; the source's remembered values become what this push holds (never the aggregate).
   */
  source?: string;
}

/** What a push stored. */
export interface PushResult {
  /** Families in the body. */
  families: number;
  /** Series in the body (a histogram or summary series counts once). */
  series: number;
}

export interface DeleteResult {
  /** Series removed. */
  deleted: number;
}

export interface ScrapeOptions {
  /** `text` (Prometheus 0.0.4, default) or `openmetrics` (1.0, ends in `# EOF`). */
  format?: ExpositionFormat;
  /** Default `underscores`, as an HTTP scrape without `escaping=` in its Accept header gets. */
  escaping?: EscapingScheme;
}

/**
 * Names of the errors the gateway throws. Over RPC they arrive as `Error`s whose `name` is one of
 * these and whose `message` says what was wrong, where, and how to fix it.
 */
export type MetricsGatewayErrorName =
  | "ParseError"
  | "InvalidName"
  | "InvalidValue"
  | "BadRequest"
  | "TypeConflict"
  | "Conflict"
  | "LimitExceeded"
  | "UnsupportedMediaType"
  | "Unavailable";

/** One write of a {@link MetricsGateway.batch} call. */
export type MetricOp =
  | ({ op: "inc"; name: string; labels?: Labels; value?: number } & WriteOptions)
  | ({ op: "set"; name: string; labels?: Labels; value: number } & WriteOptions)
  | ({ op: "observe"; name: string; labels?: Labels; value: number; buckets?: number[] } & WriteOptions);

export interface BatchResult {
  /** Writes applied (all of them: a batch is applied whole or not at all). */
  applied: number;
}

/** The RPC surface of the gateway's default entrypoint. */
export interface MetricsGateway {
  /** Adds `value` (default 1; finite, >= 0) to a counter, creating it at 0 first. */
  inc(name: string, labels?: Labels, value?: number, options?: WriteOptions): Promise<void>;
  /** Sets a gauge to `value`. */
  set(name: string, labels: Labels | undefined, value: number, options?: WriteOptions): Promise<void>;
  /**
   * Records one observation in a histogram. `buckets` are the upper bounds (ascending; `+Inf` is
   * implied) and default to prom-client's `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`.
   */
  observe(name: string, labels: Labels | undefined, value: number, buckets?: number[], options?: WriteOptions): Promise<void>;
  /**
   * Applies many `inc` / `set` / `observe` writes as one call, whole or not at all: increments of
   * one series add up, the last `set` wins, observations accumulate. What `metrics()` from
   * `rpc/client` sends.
   */
  batch(ops: MetricOp[]): Promise<BatchResult>;
  /** Pushes a Prometheus text 0.0.4 or OpenMetrics body; applied whole or not at all. */
  push(body: string, options?: PushOptions): Promise<PushResult>;
  /**
   * Deletes series. `"__all"` deletes everything; a name deletes that family; with `labels`,
   * only that family's series whose labels include every given pair.
   */
  delete(name: string, labels?: Labels): Promise<DeleteResult>;
  /**
   * Deletes a Pushgateway group: every series last pushed with exactly this grouping key
   * (`{}` is the ungrouped group), and its push times. A missing group is a `BadRequest`.
   */
  deleteGroup(group: Labels): Promise<DeleteResult>;
  /**
   * The exposition text of everything stored, plus the gateway's own metrics, as one string (up to
   * 24 MiB: one RPC value can carry no more; `LimitExceeded` beyond, use `scrapeStream`).
   */
  scrape(options?: ScrapeOptions): Promise<string>;
  /** The same exposition as a stream of UTF-8 bytes, however large (read a page at a time from the shards). */
  scrapeStream(options?: ScrapeOptions): Promise<ReadableStream<Uint8Array>>;
}

/**
 * The type of a service binding to the gateway in a sibling Worker's `Env`: the RPC methods plus
 * the HTTP API through `fetch`.
 *
 * @example
 * ```ts
 * interface Env { METRICS: MetricsBinding }
 * const res = await env.METRICS.fetch("http://metrics-gateway/metrics");
 * ```
 */
export type MetricsBinding = MetricsGateway & {
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
};
