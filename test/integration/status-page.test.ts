/** The status page at `/` as a person sees it: headless Chromium (Debian's) driven by playwright-core. */
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requirePeer, startGateway, tempDir, type Server } from "./servers";

/** The page's time format: an ISO date to the second, in UTC. */
const when = (seconds: number) => `${new Date(Math.floor(seconds) * 1000).toISOString().slice(0, 19).replace("T", " ")} UTC`;

describe("status page", () => {
  let gateway: Server;
  let browser: Browser | undefined;

  beforeAll(async () => {
    gateway = await startGateway(tempDir("mg-page-"));
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
  });

  it("shows totals, groups with their last push, families, and the export state", async () => {
    // In the test, not in a hook: without Chromium this test fails, naming the package.
    browser = await chromium.launch({
      executablePath: requirePeer("chromium"),
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const put = await fetch(`${gateway.url}/metrics/job/nightly/instance/db1`, { method: "PUT", body: "# HELP rows_total Rows <copied>.\n# TYPE rows_total counter\nrows_total 5\n" });
    expect(put.status).toBe(200);
    const failed = await fetch(`${gateway.url}/metrics/job/nightly/instance/db1`, { method: "POST", body: "# TYPE rows_total gauge\nrows_total 1\n" });
    expect(failed.status).toBe(409);
    expect((await fetch(`${gateway.url}/metrics/orders_total?plan=pro`, { method: "PATCH" })).status).toBe(204);

    // The group's times as the scrape has them: the page must show the same ones.
    const scrape = await (await fetch(`${gateway.url}/metrics`)).text();
    const time = (name: string) => {
      const value = new RegExp(`^${name}\\{instance="db1",job="nightly"\\} (\\S+)$`, "m").exec(scrape)?.[1];
      if (value === undefined) throw new Error(`no ${name} for the group in the scrape:\n${scrape}`);
      return Number(value);
    };
    const pushTime = time("push_time_seconds");
    const failureTime = time("push_failure_time_seconds");

    const page = await browser.newPage();
    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    const response = await page.goto(`${gateway.url}/`);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe("metrics-gateway");
    // families, series, groups (the ungrouped PATCH is no group)
    expect(await page.locator("#totals strong").allInnerTexts()).toEqual(["2", "2", "1"]);

    const rows = page.locator("#groups tbody tr");
    expect(await rows.count()).toBe(2);
    const cells = async (i: number) => (await rows.nth(i).locator("td").allInnerTexts()).slice(0, 5);
    const byLabel = new Map([await cells(0), await cells(1)].map((c) => [c[0] ?? "", c]));
    // Grouping labels, families, series, last push, last failed push (the failed push is the later).
    expect(byLabel.get('instance="db1", job="nightly"')).toEqual(['instance="db1", job="nightly"', "1", "1", when(pushTime), when(failureTime)]);
    expect(byLabel.get("ungrouped")).toEqual(["ungrouped", "1", "1", "—", "never"]);
    expect(await page.locator("#groups tr.failed").allInnerTexts()).toHaveLength(1);
    expect(await page.locator("#groups tr.failed td").first().innerText()).toBe('instance="db1", job="nightly"');

    const families = await page.locator("#families tbody tr").allInnerTexts();
    expect(families).toEqual(["orders_total\tcounter\t1\t", "rows_total\tcounter\t1\tRows <copied>."]);
    expect(await page.locator("#rw-last").innerText()).toBe("Not configured: set SECRET_PROM_ENDPOINT to export on each cron trigger.");
    // No external assets: the page is one document from the gateway.
    expect(requested).toEqual([`${gateway.url}/`]);
    // Kept only when asked for; otherwise it goes with the file's temp dirs.
    await page.screenshot({ path: process.env.STATUS_SCREENSHOT ?? `${tempDir("mg-shot-")}/status.png`, fullPage: true });
    await page.close();
  });
});
