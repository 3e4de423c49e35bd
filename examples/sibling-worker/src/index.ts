/** An example sibling Worker: counts orders and request latency in metrics-gateway. */
import type { MetricsBinding } from "metrics-gateway/rpc";
import { metrics } from "metrics-gateway/rpc/client";

export interface Env {
  METRICS: MetricsBinding;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const started = Date.now();
    const url = new URL(request.url);

    if (url.pathname === "/order") {
      const plan = url.searchParams.get("plan") ?? "free";
      // RPC: typed, and awaited here so a rejected write surfaces as an error.
      await env.METRICS.inc("orders_total", { plan });
      ctx.waitUntil(env.METRICS.observe("order_duration_seconds", { plan }, (Date.now() - started) / 1000));
      return new Response(`ordered (${plan})\n`);
    }

    if (url.pathname === "/batched") {
      // The batching helper: every write of this request goes as one call, after the response.
      const m = metrics(env.METRICS, ctx);
      m.inc("page_views_total", { page: url.searchParams.get("page") ?? "home" });
      m.observe("render_seconds", undefined, (Date.now() - started) / 1000);
      return new Response("viewed\n");
    }

    if (url.pathname === "/metrics") {
      // HTTP over the same binding: the gateway's /metrics, e.g. to show it to a person.
      return env.METRICS.fetch("http://metrics-gateway/metrics");
    }

    if (url.pathname === "/push") {
      // A whole exposition body, e.g. from a batch job's registry.
      const result = await env.METRICS.push("# TYPE batch_rows_total counter\nbatch_rows_total 128\n");
      return Response.json(result);
    }

    return new Response("try /order?plan=pro, /batched?page=home, /push or /metrics\n", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
