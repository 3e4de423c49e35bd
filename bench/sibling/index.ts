/**
 * The benchmark's sibling Worker (scenario e of bench/run.mjs).
 *
 * - `GET /inc`: one awaited RPC `env.METRICS.inc("bench_rpc_total", { worker: "sibling" })`.
 * - `GET /batched`: the batching helper from rpc/client.ts, 10 `inc`s of `bench_rpc_batched_total`
 *   per request, flushed (awaited) before answering, so every 2xx means 10 increments are durable.
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
    const path = new URL(request.url).pathname;
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
    return env.METRICS.fetch(request);
  },
} satisfies ExportedHandler<Env>;
