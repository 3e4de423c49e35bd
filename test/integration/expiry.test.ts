/**
 * Series expiry end to end: `wrangler dev` exporting (remote write 1.0) to a real Prometheus 2.42
 * with its remote-write receiver on. What is pushed with `Metrics-TTL: 2` is exported once, removed
 * by the Durable Objects' own alarms (the test never triggers them: it watches
 * `metrics_gateway_series_expired_total` move, scraping meanwhile), and the next export's stale
 * markers make Prometheus stop returning it, while what was pushed without a TTL stays:
 *
 * - a series with a TTL next to one of the same family without;
 * - a Pushgateway group PUT with a TTL and POSTed into again a little later: it expires 2 s after
 *   that last push, as a whole (every scrape shows all of it or none of it), push times included;
 * - a series and a group that expired and were pushed again before the next export: no stale
 *   marker for them (it would hide them, or collide with their new sample at the same time).
 *
 * Export runs are triggered with explicit times, so every sample's time is known.
 */
import { afterAll, expect, it } from "vitest";
import { pollUntil, rawSamples, sampleLines, sampleValue, scrapeText, sleep, values } from "./prom-helpers";
import { requirePeer, startBundledGateway, startPrometheus, tempDir, type Server } from "./servers";

const TTL_SECONDS = 2;
/** How long to wait for the alarms at most (a give-up limit: they are due about 2.5 s after the first push). */
const ALARM_DEADLINE_MS = 30_000;
/** The second push into the TTL'd group comes this much after the first (only so that they differ; never asserted on). */
const LATE_PUSH_MS = 500;

const servers: { gateway?: Server; prometheus?: Server } = {};
afterAll(async () => {
  await servers.gateway?.stop();
  await servers.prometheus?.stop();
});

interface Status {
  series: number;
  groups: number;
  series_expired: number;
  remote_write: { pending_stale_markers: number };
}

it("series and groups with a TTL are removed by the alarms and go stale in Prometheus after the next export; the others stay", async () => {
  requirePeer("prometheus");
  const prometheus = await startPrometheus([]);
  servers.prometheus = prometheus;
  const gateway = await startBundledGateway(tempDir("mg-expiry-"), { SECRET_PROM_ENDPOINT: `${prometheus.url}/api/v1/write` });
  servers.gateway = gateway;

  const cron = async (timeMs: number) => {
    const response = await fetch(`${gateway.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}&time=${timeMs}`);
    expect(`${response.status} ${await response.text()}`).toBe("200 ok");
  };
  const push = async (method: string, path: string, body: string, ttl?: number) => {
    const headers: Record<string, string> = ttl === undefined ? {} : { "Metrics-TTL": String(ttl) };
    const response = await fetch(`${gateway.url}${path}`, { method, body, headers });
    expect(`${response.status} ${await response.text()}`, `${method} ${path}`).toMatch(/^200 /);
  };
  const status = async (): Promise<Status> => ((await (await fetch(`${gateway.url}/api/v1/status`)).json()) as { data: Status }).data;

  const pushStarted = Date.now();
  await push("POST", "/metrics", '# TYPE exp_series gauge\nexp_series{ttl="2s"} 1\n', TTL_SECONDS);
  await push("POST", "/metrics", '# TYPE exp_series gauge\nexp_series{ttl="none"} 2\n');
  await push("POST", "/metrics", "# TYPE exp_back gauge\nexp_back 3\n", TTL_SECONDS);
  await push("PUT", "/metrics/job/exp_ttl_group/instance/a", "# TYPE exp_group_total counter\nexp_group_total 5\n# TYPE exp_group_gauge gauge\nexp_group_gauge 6\n", TTL_SECONDS);
  await push("PUT", "/metrics/job/exp_kept_group", "# TYPE exp_group_total counter\nexp_group_total 7\n");
  await push("PUT", "/metrics/job/exp_back_group", "# TYPE exp_back_group_total counter\nexp_back_group_total 4\n", TTL_SECONDS);
  await sleep(LATE_PUSH_MS);
  await push("POST", "/metrics/job/exp_ttl_group/instance/a", "# TYPE exp_group_late gauge\nexp_group_late 8\n", TTL_SECONDS);

  // Export run 1, at once (what has a TTL must still be held when the run reads it).
  const t1 = Date.now();
  await cron(t1);
  const exportedBy = Date.now();
  const before = await scrapeText(gateway);
  if (exportedBy - pushStarted >= TTL_SECONDS * 1000) {
    throw new Error(`the first export finished ${exportedBy - pushStarted} ms after the first push, past its ${TTL_SECONDS} s TTL: this machine was too slow for the test to say anything (nothing about expiry was checked)`);
  }
  const pushTime = (text: string, group: string) => {
    const v = sampleValue(text, `push_time_seconds{${group}}`);
    if (v === undefined) throw new Error(`no push_time_seconds{${group}} in the scrape:\n${text}`);
    return String(v);
  };
  const ttlGroupPushed = pushTime(before.text, 'instance="a",job="exp_ttl_group"');
  const keptGroupPushed = pushTime(before.text, 'job="exp_kept_group"');
  const backGroupPushed = pushTime(before.text, 'job="exp_back_group"');
  expect(sampleValue(before.text, "metrics_gateway_remote_write_last_success_timestamp_seconds")).toBe(t1 / 1000);
  expect(sampleValue(before.text, "metrics_gateway_series_expired_total")).toBe(0);

  // Run 1 reached Prometheus: every series, stamped with the run's time.
  const ttlGroup = { instance: "a", job: "exp_ttl_group" };
  const keptGroup = { job: "exp_kept_group" };
  const backGroup = { job: "exp_back_group" };
  expect(await values(prometheus, "exp_series", t1)).toEqual([
    [{ __name__: "exp_series", ttl: "2s" }, "1"],
    [{ __name__: "exp_series", ttl: "none" }, "2"],
  ]);
  expect(await values(prometheus, "exp_back", t1)).toEqual([[{ __name__: "exp_back" }, "3"]]);
  expect(await values(prometheus, "exp_group_total", t1)).toEqual([
    [{ __name__: "exp_group_total", ...ttlGroup }, "5"],
    [{ __name__: "exp_group_total", ...keptGroup }, "7"],
  ]);
  expect(await values(prometheus, "exp_group_gauge", t1)).toEqual([[{ __name__: "exp_group_gauge", ...ttlGroup }, "6"]]);
  expect(await values(prometheus, "exp_group_late", t1)).toEqual([[{ __name__: "exp_group_late", ...ttlGroup }, "8"]]);
  expect(await values(prometheus, "exp_back_group_total", t1)).toEqual([[{ __name__: "exp_back_group_total", ...backGroup }, "4"]]);
  expect(await values(prometheus, "push_time_seconds", t1)).toEqual([
    [{ __name__: "push_time_seconds", ...ttlGroup }, ttlGroupPushed],
    [{ __name__: "push_time_seconds", ...backGroup }, backGroupPushed],
    [{ __name__: "push_time_seconds", ...keptGroup }, keptGroupPushed],
  ]);
  expect(await values(prometheus, "push_failure_time_seconds", t1)).toEqual([
    [{ __name__: "push_failure_time_seconds", ...ttlGroup }, "0"],
    [{ __name__: "push_failure_time_seconds", ...backGroup }, "0"],
    [{ __name__: "push_failure_time_seconds", ...keptGroup }, "0"],
  ]);
  expect(await values(prometheus, "metrics_gateway_series", t1)).toEqual([[{ __name__: "metrics_gateway_series" }, "8"]]);

  // The alarms (nobody triggers them) remove the 6 series with a TTL. Meanwhile every scrape must
  // show the TTL'd group whole or not at all (its 3 series and 2 push-time series), never
  // exp_series{ttl="2s"} once that group is gone (it expires first: it was pushed before the
  // group's last push), and always what has no TTL.
  const inGroup = (l: string) => l.includes('{instance="a",job="exp_ttl_group"}');
  const kept = ['exp_group_total{job="exp_kept_group"} 7', 'exp_series{ttl="none"} 2', 'push_failure_time_seconds{job="exp_kept_group"} 0', `push_time_seconds{job="exp_kept_group"} ${keptGroupPushed}`];
  const problems: string[] = [];
  const seen = { scrapes: 0, both: 0, seriesGone: 0, allGone: 0 };
  const expired = async () => {
    const lines = sampleLines((await scrapeText(gateway)).text);
    seen.scrapes++;
    const group = lines.filter(inGroup);
    const series = lines.includes('exp_series{ttl="2s"} 1');
    if (group.length !== 0 && group.length !== 5) problems.push(`scrape ${seen.scrapes}: the TTL'd group in part: ${group.join(" | ")}`);
    if (group.length === 0 && series) problems.push(`scrape ${seen.scrapes}: the TTL'd group is gone but exp_series{ttl="2s"} (pushed before the group's last push) is still served`);
    const missing = kept.filter((k) => !lines.includes(k));
    if (missing.length > 0) problems.push(`scrape ${seen.scrapes}: missing ${missing.join(", ")}`);
    if (group.length > 0 && series) seen.both++;
    else if (group.length > 0) seen.seriesGone++;
    else seen.allGone++;
    const v = lines.find((l) => l.startsWith("metrics_gateway_series_expired_total "));
    return v === undefined ? undefined : Number(v.split(" ")[1]);
  };
  const moved = await pollUntil("metrics_gateway_series_expired_total to move (the Durable Objects' alarms)", expired, (v) => (v ?? 0) > 0, ALARM_DEADLINE_MS, 50);
  const firstMovedMs = Date.now() - pushStarted;
  // The series and the groups sit on different shards, each with its own alarm.
  await pollUntil("metrics_gateway_series_expired_total to reach 6 (2 series, a group of 3, a group of 1)", expired, (v) => (v ?? 0) >= 6, ALARM_DEADLINE_MS, 50);
  const allMovedMs = Date.now() - pushStarted;
  expect(problems).toEqual([]);
  const after = await scrapeText(gateway);
  expect(sampleValue(after.text, "metrics_gateway_series_expired_total")).toBe(6);
  expect(sampleLines(after.text).filter((l) => !l.startsWith("metrics_gateway_"))).toEqual(kept);
  // The groups went as a whole: not listed among the groups either.
  const groups = (await (await fetch(`${gateway.url}/api/v1/metrics`)).json()) as { data: { labels: Record<string, string> }[] };
  expect(groups.data.map((g) => g.labels)).toEqual([{}, keptGroup]);
  const owed = await status();
  expect({ series: owed.series, groups: owed.groups, expired: owed.series_expired, stale: owed.remote_write.pending_stale_markers }).toEqual({
    series: 2,
    groups: 1,
    expired: 6,
    // One per removed series: exp_series{ttl="2s"}, exp_back, the TTL'd group's three and its two
    // push-time series, exp_back_group's one and its two.
    stale: 10,
  });

  // exp_back and exp_back_group come back (without a TTL) before the next export.
  await push("POST", "/metrics", "# TYPE exp_back gauge\nexp_back 9\n");
  await push("PUT", "/metrics/job/exp_back_group", "# TYPE exp_back_group_total counter\nexp_back_group_total 10\n");
  const backAgain = pushTime((await scrapeText(gateway)).text, 'job="exp_back_group"');

  // Export run 2: the stale markers reach Prometheus, none for what came back.
  const t2 = Date.now();
  await cron(t2);
  const last = await scrapeText(gateway);
  expect(sampleValue(last.text, "metrics_gateway_remote_write_last_success_timestamp_seconds")).toBe(t2 / 1000);
  expect((await status()).remote_write.pending_stale_markers).toBe(0);

  expect(await values(prometheus, "exp_series", t2)).toEqual([[{ __name__: "exp_series", ttl: "none" }, "2"]]);
  expect(await values(prometheus, "exp_group_total", t2)).toEqual([[{ __name__: "exp_group_total", ...keptGroup }, "7"]]);
  expect(await values(prometheus, "exp_group_gauge", t2)).toEqual([]);
  expect(await values(prometheus, "exp_group_late", t2)).toEqual([]);
  expect(await values(prometheus, "exp_back", t2)).toEqual([[{ __name__: "exp_back" }, "9"]]);
  expect(await values(prometheus, "exp_back_group_total", t2)).toEqual([[{ __name__: "exp_back_group_total", ...backGroup }, "10"]]);
  expect(await values(prometheus, "push_time_seconds", t2)).toEqual([
    [{ __name__: "push_time_seconds", ...backGroup }, backAgain],
    [{ __name__: "push_time_seconds", ...keptGroup }, keptGroupPushed],
  ]);
  expect(await values(prometheus, "push_failure_time_seconds", t2)).toEqual([
    [{ __name__: "push_failure_time_seconds", ...backGroup }, "0"],
    [{ __name__: "push_failure_time_seconds", ...keptGroup }, "0"],
  ]);
  expect(await values(prometheus, "metrics_gateway_series", t2)).toEqual([[{ __name__: "metrics_gateway_series" }, "4"]]);
  expect(await values(prometheus, "metrics_gateway_series_expired_total", t2)).toEqual([[{ __name__: "metrics_gateway_series_expired_total" }, "6"]]);
  // Without the stale markers the samples of run 1 would still be returned at t2 (5 min lookback).
  // The samples as stored: run 1's for what expired (a stale marker is not returned as a sample),
  // both runs' for the rest and for what came back.
  const window = `${Math.ceil((t2 - t1) / 1000) + 60}s`;
  expect(await rawSamples(prometheus, `{__name__=~"exp_.+|push_time_seconds"}[${window}]`, t2)).toEqual([
    [{ __name__: "exp_back" }, [[t1 / 1000, "3"], [t2 / 1000, "9"]]],
    [{ __name__: "exp_back_group_total", ...backGroup }, [[t1 / 1000, "4"], [t2 / 1000, "10"]]],
    [{ __name__: "exp_group_gauge", ...ttlGroup }, [[t1 / 1000, "6"]]],
    [{ __name__: "exp_group_late", ...ttlGroup }, [[t1 / 1000, "8"]]],
    [{ __name__: "exp_group_total", ...ttlGroup }, [[t1 / 1000, "5"]]],
    [{ __name__: "exp_group_total", ...keptGroup }, [[t1 / 1000, "7"], [t2 / 1000, "7"]]],
    [{ __name__: "exp_series", ttl: "2s" }, [[t1 / 1000, "1"]]],
    [{ __name__: "exp_series", ttl: "none" }, [[t1 / 1000, "2"], [t2 / 1000, "2"]]],
    [{ __name__: "push_time_seconds", ...ttlGroup }, [[t1 / 1000, ttlGroupPushed]]],
    [{ __name__: "push_time_seconds", ...backGroup }, [[t1 / 1000, backGroupPushed], [t2 / 1000, backAgain]]],
    [{ __name__: "push_time_seconds", ...keptGroup }, [[t1 / 1000, keptGroupPushed], [t2 / 1000, keptGroupPushed]]],
  ]);
  console.log(
    `expiry: TTL ${TTL_SECONDS} s, the group's last push ${LATE_PUSH_MS} ms after the first; metrics_gateway_series_expired_total first moved (to ${String(moved)}) ${firstMovedMs} ms after the first push and reached 6 ${allMovedMs} ms after it (polled every 50 ms); ${seen.scrapes} scrapes meanwhile: ${seen.both} with exp_series{ttl="2s"} and the group, ${seen.seriesGone} with the series gone and the group whole, ${seen.allGone} with both gone; export runs at t1=${t1}, t2=${t2} (${t2 - t1} ms apart)`,
  );
});
