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
   * Sends what is collected now and resolves when the gateway has stored it and every send
   * already on its way (`applied`: their writes), or rejects with the first error (e.g.
   * `InvalidName`). Writes made after a flush go in the next call.
   */
  flush(): Promise<BatchResult>;
  /** Writes collected and not yet sent. */
  readonly pending: number;
}

/**
 * Writes collected past about this many bytes go out at once, in a call of their own (each call is
 * applied whole or not at all): one RPC value carries at most 32 MiB.
 */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Collects writes for `binding` and sends them as one `batch` call once the current task yields
 * (registered with `ctx.waitUntil`, so it completes after the response), or at `flush()`; a
 * request's writes past {@link MAX_BATCH_BYTES} go in more than one call. Errors of a background
 * send are logged with `console.error`; await `flush()` to handle them yourself. Labels and
 * buckets are copied when a write is collected: changing the objects afterwards changes nothing.
 */
export function metrics(binding: BatchTarget, ctx: WaitUntil): Metrics {
  let ops: MetricOp[] = [];
  let bytes = 0;
  let scheduled = false;
  /** Calls sent and not answered yet: `flush()` waits for them too. */
  const inFlight = new Set<Promise<BatchResult>>();
  const start = (): Promise<BatchResult> => {
    if (ops.length === 0) return Promise.resolve({ applied: 0 });
    const batch = ops;
    ops = [];
    bytes = 0;
    const call = binding.batch(batch);
    inFlight.add(call);
    const done = (): void => void inFlight.delete(call);
    call.then(done, done);
    return call;
  };
  const background = (): void => {
    ctx.waitUntil(
      new Promise<void>((resolve) => setTimeout(resolve, 0))
        .then(() => {
          scheduled = false;
          return start();
        })
        .catch((error: unknown) => console.error("metrics-gateway: a batch of writes was rejected:", error)),
    );
  };
  const add = (op: MetricOp): void => {
    ops.push(op);
    bytes += opBytes(op);
    if (bytes >= MAX_BATCH_BYTES) {
      start().catch((error: unknown) => console.error("metrics-gateway: a batch of writes was rejected:", error));
      return;
    }
    if (scheduled) return;
    scheduled = true;
    background();
  };
  const flush = async (): Promise<BatchResult> => {
    const calls = [...inFlight, start()];
    let applied = 0;
    let failure: unknown;
    for (const r of await Promise.allSettled(calls)) {
      if (r.status === "fulfilled") applied += r.value.applied;
      else failure ??= r.reason;
    }
    if (failure !== undefined) throw failure;
    return { applied };
  };
  const ttl = (op: MetricOp, options: WriteOptions | undefined): MetricOp => (options?.ttlSeconds === undefined ? op : { ...op, ttlSeconds: options.ttlSeconds });
  return {
    inc: (name, labels, value, options) => add(ttl(value === undefined ? { op: "inc", name, labels: copy(labels) } : { op: "inc", name, labels: copy(labels), value }, options)),
    set: (name, labels, value, options) => add(ttl({ op: "set", name, labels: copy(labels), value }, options)),
    observe: (name, labels, value, buckets, options) =>
      add(ttl(buckets === undefined ? { op: "observe", name, labels: copy(labels), value } : { op: "observe", name, labels: copy(labels), value, buckets: Array.isArray(buckets) ? [...buckets] : buckets }, options)),
    flush,
    get pending() {
      return ops.length;
    },
  };
}

/** A plain labels object, copied; anything else as it is (the gateway says what is wrong with it). */
function copy(labels: Labels | undefined): Labels | undefined {
  if (labels === undefined || labels === null || typeof labels !== "object" || Object.getPrototypeOf(labels) !== Object.prototype) return labels;
  return { ...labels };
}

/** About how many bytes a write takes in the call. */
function opBytes(op: MetricOp): number {
  let n = 48 + (typeof op.name === "string" ? op.name.length * 2 : 0);
  const labels = op.labels;
  if (labels !== undefined && labels !== null && typeof labels === "object") {
    // for...in: no array per write (this runs on every write a request makes).
    for (const k in labels) {
      const v = labels[k];
      n += 16 + k.length * 2 + (typeof v === "string" ? v.length * 2 : 8);
    }
  }
  if ("buckets" in op && Array.isArray(op.buckets)) n += op.buckets.length * 8;
  return n;
}
