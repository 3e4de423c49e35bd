/**
 * The benchmark's sibling Worker (scenario e of bench/run.mjs).
 *
 * - `GET /inc`: one awaited RPC `env.METRICS.inc("bench_rpc_total", { worker: "sibling" })`.
 * - `GET /batched`: the batching helper from rpc/client.ts, 10 `inc`s of `bench_rpc_batched_total`
 *   per request, flushed (awaited) before answering, so every 2xx means 10 increments are durable.
 * - `GET /inc-series?name=N&s=S`: one awaited `inc(N, { series: "sS" })` (rows-written scenarios).
 * - `GET /batched5?name=N&i=I&of=K`: the batching helper, 5 `inc`s of 5 distinct series of N
 *   (`series` "s0".."s<K-1>", the 5 after I*5), flushed before answering (rows-written scenario v).
 * - anything else: passed to the gateway's HTTP API over the same binding (`/-/healthy`, `/metrics`).
 */
import type { MetricsBinding } from "../../rpc";
import { metrics } from "../../rpc/client";

interface Env {
  METRICS: MetricsBinding;
}

const LABELS = { worker: "sibling" };

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === "/inc") {
      await env.METRICS.inc("bench_rpc_total", LABELS);
      return new Response(null, { status: 204 });
    }
    if (path === "/batched") {
      const m = metrics(env.METRICS, ctx);
      for (let i = 0; i < 10; i++) m.inc("bench_rpc_batched_total", LABELS);
      await m.flush();
      return new Response(null, { status: 204 });
    }
    if (path === "/inc-series") {
      await env.METRICS.inc(url.searchParams.get("name") ?? "bench_rows_total", { series: `s${url.searchParams.get("s") ?? "0"}` });
      return new Response(null, { status: 204 });
    }
    if (path === "/batched5") {
      const name = url.searchParams.get("name") ?? "bench_rows_batched_total";
      const i = Number(url.searchParams.get("i") ?? "0");
      const of = Number(url.searchParams.get("of") ?? "50");
      const m = metrics(env.METRICS, ctx);
      for (let k = 0; k < 5; k++) m.inc(name, { series: `s${(i * 5 + k) % of}` });
      await m.flush();
      return new Response(null, { status: 204 });
    }
    return env.METRICS.fetch(request);
  },
} satisfies ExportedHandler<Env>;
