/**
 * The whole path a sibling Worker takes: examples/sibling-worker served by `wrangler dev` beside the
 * gateway -> service binding RPC (`env.METRICS.inc`, the batching helper) -> gateway -> its
 * Durable Objects -> scrape through the same binding (`env.METRICS.fetch`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, tempDir, type Server } from "./servers";

describe("sibling Worker over a service binding", () => {
  let sibling: Server;

  beforeAll(async () => {
    // The sibling answers 404 on /-/healthy; its /metrics goes through the binding to the gateway.
    sibling = await startGateway(tempDir("mg-sibling-"), {}, ["examples/sibling-worker/wrangler.toml", "wrangler.toml"], "/metrics");
  });
  afterAll(async () => {
    await sibling?.stop();
  });

  it("increments over RPC, batches with the helper, pushes a body, and scrapes it all back", async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${sibling.url}/order?plan=pro`)).status).toBe(200);
    expect((await fetch(`${sibling.url}/order?plan=free`)).status).toBe(200);
    expect((await fetch(`${sibling.url}/batched?page=home`)).status).toBe(200);
    expect(await (await fetch(`${sibling.url}/push`)).json()).toEqual({ families: 1, series: 1 });
    // The helper sends after the response: give it a moment, then read through the binding's fetch.
    let text = "";
    for (let i = 0; i < 50 && !text.includes("page_views_total"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await (await fetch(`${sibling.url}/metrics`)).text();
    }
    expect(text).toContain('orders_total{plan="pro"} 3\n');
    expect(text).toContain('orders_total{plan="free"} 1\n');
    expect(text).toContain('page_views_total{page="home"} 1\n');
    expect(text).toContain("batch_rows_total 128\n");
    expect(text).toMatch(/order_duration_seconds_count\{plan="pro"\} 3\n/);
  });
});
