/** The status page at `/` as a person sees it: headless Chromium (Debian's) driven by playwright-core. */
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, tempDir, type Server } from "./servers";

const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";

describe("status page", () => {
  let gateway: Server;
  let browser: Browser;

  beforeAll(async () => {
    gateway = await startGateway(tempDir("mg-page-"));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
  });

  it("shows totals, groups with their last push, families, and the export state", async () => {
    await fetch(`${gateway.url}/metrics/job/nightly/instance/db1`, { method: "PUT", body: "# HELP rows_total Rows <copied>.\n# TYPE rows_total counter\nrows_total 5\n" });
    await fetch(`${gateway.url}/metrics/job/nightly/instance/db1`, { method: "POST", body: "# TYPE rows_total gauge\nrows_total 1\n" }); // a failed push
    await fetch(`${gateway.url}/metrics/orders_total?plan=pro`, { method: "PATCH" });

    const page = await browser.newPage();
    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    const response = await page.goto(`${gateway.url}/`);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe("metrics-gateway");
    expect(await page.locator("#totals").innerText()).toContain("2 families, 2 series, 1 group.");

    const groupRows = await page.locator("#groups tbody tr").allInnerTexts();
    const nightly = groupRows.find((r) => r.includes('job="nightly"'));
    expect(nightly).toContain('instance="db1"');
    expect(nightly).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    // The failed push is shown, and the row is marked.
    expect(await page.locator("#groups tr.failed").count()).toBe(1);
    expect(groupRows.some((r) => r.includes("ungrouped"))).toBe(true);

    const families = await page.locator("#families tbody tr").allInnerTexts();
    expect(families.find((r) => r.startsWith("rows_total"))).toContain("Rows <copied>.");
    expect(families.find((r) => r.startsWith("orders_total"))).toContain("counter");
    expect(await page.locator("#rw-last").innerText()).toContain("Not configured");
    // No external assets: every request the page made went to the gateway.
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((u) => !u.startsWith(gateway.url))).toEqual([]);
    await page.screenshot({ path: process.env.STATUS_SCREENSHOT ?? `${tempDir("mg-shot-")}/status.png`, fullPage: true });
    await page.close();
  });
});
