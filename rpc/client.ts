/**
 * A batching helper for sibling Workers: collect `inc` / `set` / `observe` during a request and
 * send them as one RPC call (`batch`) at the end, through `ctx.waitUntil`. The only runtime code in
 * `rpc/`; it imports nothing.
 *
 * @example
 * ```ts
 * import { metrics } from "metrics-gateway/rpc/client";
 * export default {
 *   async fetch(request, env, ctx) {
 *     const m = metrics(env.METRICS, ctx);
 *     m.inc("requests_total", { route: "/" });
 *     m.observe("request_seconds", { route: "/" }, 0.012);
 *     return new Response("ok"); // sent after the response, as one call
 *   },
 * };
 * ```
 */
import type { BatchResult, Labels, MetricOp, MetricsGateway, WriteOptions } from "./index";

/** What the helper needs of a binding: the `batch` method. */
export type BatchTarget = Pick<MetricsGateway, "batch">;

/** What the helper needs of an execution context. */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

export interface Metrics {
  inc(name: string, labels?: Labels, value?: number, options?: WriteOptions): void;
  set(name: string, labels: Labels | undefined, value: number, options?: WriteOptions): void;
  observe(name: string, labels: Labels | undefined, value: number, buckets?: number[], options?: WriteOptions): void;
  /**
   * Sends what is collected now and resolves when the gateway has stored it (or rejects with its
   * error, e.g. `InvalidName`). Writes made after a flush go in the next call.
   */
  flush(): Promise<BatchResult>;
  /** Writes collected and not yet sent. */
  readonly pending: number;
}

/**
 * Collects writes for `binding` and sends them as one `batch` call once the current task yields
 * (registered with `ctx.waitUntil`, so it completes after the response), or at `flush()`. Errors of
 * a background send are logged with `console.error`; await `flush()` to handle them yourself.
 */
export function metrics(binding: BatchTarget, ctx: WaitUntil): Metrics {
  let ops: MetricOp[] = [];
  let scheduled = false;
  const send = async (): Promise<BatchResult> => {
    scheduled = false;
    if (ops.length === 0) return { applied: 0 };
    const batch = ops;
    ops = [];
    return binding.batch(batch);
  };
  const add = (op: MetricOp): void => {
    ops.push(op);
    if (scheduled) return;
    scheduled = true;
    ctx.waitUntil(
      new Promise<void>((resolve) => setTimeout(resolve, 0))
        .then(send)
        .catch((error: unknown) => console.error("metrics-gateway: a batch of writes was rejected:", error)),
    );
  };
  const ttl = (op: MetricOp, options: WriteOptions | undefined): MetricOp => (options?.ttlSeconds === undefined ? op : { ...op, ttlSeconds: options.ttlSeconds });
  return {
    inc: (name, labels, value, options) => add(ttl(value === undefined ? { op: "inc", name, labels } : { op: "inc", name, labels, value }, options)),
    set: (name, labels, value, options) => add(ttl({ op: "set", name, labels, value }, options)),
    observe: (name, labels, value, buckets, options) =>
      add(ttl(buckets === undefined ? { op: "observe", name, labels, value } : { op: "observe", name, labels, value, buckets }, options)),
    flush: send,
    get pending() {
      return ops.length;
    },
  };
}
