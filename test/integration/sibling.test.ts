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
    // The helper and the observations (ctx.waitUntil) send after the response: poll (up to 5 s) until
    // every expected line is there, then compare, so a missing or wrong line is named.
    const expected = [
      "batch_rows_total 128",
      'orders_total{plan="free"} 1',
      'orders_total{plan="pro"} 3',
      'page_views_total{page="home"} 1',
      // The durations themselves are timing; how many were observed is not.
      'order_duration_seconds_count{plan="free"} 1',
      'order_duration_seconds_count{plan="pro"} 3',
      "render_seconds_count 1",
    ];
    let lines: string[] = [];
    for (let i = 0; i < 50 && !expected.every((l) => lines.includes(l)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      lines = (await (await fetch(`${sibling.url}/metrics`)).text()).split("\n");
    }
    expect(expected.filter((l) => !lines.includes(l)), lines.join("\n")).toEqual([]);
  });
});
