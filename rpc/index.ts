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
 * How a push meets what its group holds: `aggregate` (default) merges with the aggregation rules,
 * `replace` makes the group hold exactly this push (the Pushgateway's PUT).
 */
export type PushMode = "aggregate" | "replace";

export interface PushOptions {
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
  | "LimitExceeded"
  | "UnsupportedMediaType"
  | "Unavailable";

/** One write of a {@link MetricsGateway.batch} call. */
export type MetricOp =
  | { op: "inc"; name: string; labels?: Labels; value?: number }
  | { op: "set"; name: string; labels?: Labels; value: number }
  | { op: "observe"; name: string; labels?: Labels; value: number; buckets?: number[] };

export interface BatchResult {
  /** Writes applied (all of them: a batch is applied whole or not at all). */
  applied: number;
}

/** The RPC surface of the gateway's default entrypoint. */
export interface MetricsGateway {
  /** Adds `value` (default 1; finite, >= 0) to a counter, creating it at 0 first. */
  inc(name: string, labels?: Labels, value?: number): Promise<void>;
  /** Sets a gauge to `value`. */
  set(name: string, labels: Labels | undefined, value: number): Promise<void>;
  /**
   * Records one observation in a histogram. `buckets` are the upper bounds (ascending; `+Inf` is
   * implied) and default to prom-client's `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`.
   */
  observe(name: string, labels: Labels | undefined, value: number, buckets?: number[]): Promise<void>;
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
   * (`{}` is the ungrouped group), and its push times.
   */
  deleteGroup(group: Labels): Promise<DeleteResult>;
  /** The exposition text of everything stored, plus the gateway's own metrics. */
  scrape(options?: ScrapeOptions): Promise<string>;
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
