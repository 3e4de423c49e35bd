/**
 * UTF-8 names scraped by a real Prometheus 2.42 (Debian `prometheus`), which sends no `escaping=`
 * parameter and cannot read a quoted name: the gateway (`wrangler dev`) must serve every name that is
 * not a legacy Prometheus name escaped with `underscores` (each invalid character, i.e. each Unicode
 * code point, becomes one `_`), and Prometheus must store every series under that name with its
 * exact value, next to ordinary series, with the target up and every served sample ingested.
 */
import { afterAll, expect, it } from "vitest";
import { byCodePoint, instant, labelString, pollUntil, PROMETHEUS_2_ACCEPT, sampleLines, sampleValue, scrapeText, values } from "./prom-helpers";
import { requirePeer, startBundledGateway, startPrometheus, tempDir, type Server } from "./servers";

const servers: { gateway?: Server; prometheus?: Server } = {};
afterAll(async () => {
  await servers.prometheus?.stop();
  await servers.gateway?.stop();
});

/** Ungrouped: UTF-8 metric names, label names, a histogram, next to ordinary series. */
const UNGROUPED = [
  '# HELP "my.metric" A counter with a dotted name.',
  '# TYPE "my.metric" counter',
  '{"my.metric","k8s.pod"="x"} 3',
  '{"my.metric","k8s.pod"="y"} 4',
  '# TYPE "größe_bytes" gauge',
  '{"größe_bytes","straße"="hauptstraße 1"} 5.5',
  // One code point outside the BMP (two UTF-16 units in JS) is one rune: one "_".
  '# TYPE "temp_😱.celsius" gauge',
  '{"temp_😱.celsius","zone.id"="ja"} -2.25',
  '# TYPE "http.latency.seconds" histogram',
  '{"http.latency.seconds_bucket",le="0.5"} 1',
  '{"http.latency.seconds_bucket",le="+Inf"} 3',
  '{"http.latency.seconds_sum"} 4.5',
  '{"http.latency.seconds_count"} 3',
  "# HELP ordinary_requests_total An ordinary counter.",
  "# TYPE ordinary_requests_total counter",
  'ordinary_requests_total{path="/a"} 10',
  'ordinary_requests_total{"http.route"="/b"} 11',
  "# TYPE ordinary_gauge gauge",
  "ordinary_gauge 42",
  "",
].join("\n");

/** A Pushgateway group whose grouping key has a label name that is not a legacy name. */
const GROUP_PATH = "/metrics/job/j1/a-b/c";
const GROUP_BODY = ['# TYPE "job.runs" counter', '{"job.runs"} 2', "# TYPE batch_last_success gauge", 'batch_last_success{"team.name"="core"} 1700000000', ""].join("\n");

/** A group keyed by a non-ASCII label name (percent-encoded UTF-8 in the path). */
const GROUP2_PATH = `/metrics/job/j2/${encodeURIComponent("région")}/eu`;
const GROUP2_BODY = ["# TYPE ordinary_gauge gauge", "ordinary_gauge 7", ""].join("\n");

it("Prometheus 2.42 scrapes UTF-8 names escaped with underscores, every series under its escaped name with its exact value", async () => {
  requirePeer("prometheus");
  const gateway = await startBundledGateway(tempDir("mg-utf8-"));
  servers.gateway = gateway;

  const posted = await fetch(`${gateway.url}/metrics`, { method: "POST", body: UNGROUPED });
  // A histogram is one series (its buckets, sum and count together).
  expect(await posted.json()).toEqual({ families: 6, series: 8 });
  const put = await fetch(`${gateway.url}${GROUP_PATH}`, { method: "PUT", body: GROUP_BODY });
  expect(await put.json()).toEqual({ families: 2, series: 2 });
  const put2 = await fetch(`${gateway.url}${GROUP2_PATH}`, { method: "PUT", body: GROUP2_BODY });
  expect(await put2.json()).toEqual({ families: 1, series: 1 });
  const pushedAt = Date.now();

  // What Prometheus 2.42 is served: escaped names, said so in the Content-Type.
  const served = await scrapeText(gateway, PROMETHEUS_2_ACCEPT);
  expect(served.contentType).toBe("text/plain; version=0.0.4; charset=utf-8; escaping=underscores");
  const pushTime = (labels: string) => {
    const v = sampleValue(served.text, `push_time_seconds{${labels}}`);
    if (v === undefined) throw new Error(`no push_time_seconds{${labels}} in the scrape:\n${served.text}`);
    return v;
  };
  const pushTimeJ1 = pushTime('a_b="c",job="j1"');
  const pushTimeJ2 = pushTime('job="j2",r_gion="eu"');
  expect(sampleLines(served.text).filter((l) => !l.startsWith("metrics_gateway_"))).toEqual([
    'batch_last_success{a_b="c",job="j1",team_name="core"} 1700000000',
    'gr__e_bytes{stra_e="hauptstraße 1"} 5.5',
    'http_latency_seconds_bucket{le="0.5"} 1',
    'http_latency_seconds_bucket{le="+Inf"} 3',
    "http_latency_seconds_sum 4.5",
    "http_latency_seconds_count 3",
    'job_runs{a_b="c",job="j1"} 2',
    'my_metric{k8s_pod="x"} 3',
    'my_metric{k8s_pod="y"} 4',
    "ordinary_gauge 42",
    'ordinary_gauge{job="j2",r_gion="eu"} 7',
    // A series whose labels had to be escaped comes after the family's others (src/wire/exposition/format.ts).
    'ordinary_requests_total{path="/a"} 10',
    'ordinary_requests_total{http_route="/b"} 11',
    `push_failure_time_seconds{a_b="c",job="j1"} 0`,
    `push_failure_time_seconds{job="j2",r_gion="eu"} 0`,
    `push_time_seconds{a_b="c",job="j1"} ${pushTimeJ1}`,
    `push_time_seconds{job="j2",r_gion="eu"} ${pushTimeJ2}`,
    'temp___celsius{zone_id="ja"} -2.25',
  ]);
  // The same store, asked for by a Prometheus 3 scraper (escaping=allow-utf-8): names quoted, as pushed.
  const utf8 = await scrapeText(gateway, "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.9,*/*;q=0.1");
  expect(utf8.contentType).toBe("text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8");
  expect(sampleLines(utf8.text).filter((l) => !l.startsWith("metrics_gateway_"))).toEqual([
    'batch_last_success{"a-b"="c",job="j1","team.name"="core"} 1700000000',
    '{"größe_bytes","straße"="hauptstraße 1"} 5.5',
    '{"http.latency.seconds_bucket",le="0.5"} 1',
    '{"http.latency.seconds_bucket",le="+Inf"} 3',
    '{"http.latency.seconds_sum"} 4.5',
    '{"http.latency.seconds_count"} 3',
    '{"job.runs","a-b"="c",job="j1"} 2',
    '{"my.metric","k8s.pod"="x"} 3',
    '{"my.metric","k8s.pod"="y"} 4',
    "ordinary_gauge 42",
    'ordinary_gauge{job="j2","région"="eu"} 7',
    'ordinary_requests_total{"http.route"="/b"} 11',
    'ordinary_requests_total{path="/a"} 10',
    `push_failure_time_seconds{"a-b"="c",job="j1"} 0`,
    `push_failure_time_seconds{job="j2","région"="eu"} 0`,
    `push_time_seconds{"a-b"="c",job="j1"} ${pushTimeJ1}`,
    `push_time_seconds{job="j2","région"="eu"} ${pushTimeJ2}`,
    '{"temp_😱.celsius","zone.id"="ja"} -2.25',
  ]);

  const prometheus = await startPrometheus([`127.0.0.1:${gateway.port}`]);
  servers.prometheus = prometheus;
  const target = { instance: `127.0.0.1:${gateway.port}` };

  // Wait for a scrape that started after the pushes (a sample's time is its scrape's start).
  const up = await pollUntil(
    "a scrape of the gateway that started after the pushes",
    () => instant(prometheus, "up"),
    (r) => r.length === 1 && (r[0]?.time ?? 0) * 1000 > pushedAt,
    30_000,
    200,
  );
  const at = (up[0]?.time ?? 0) * 1000;
  expect(up.map((s) => [s.metric, s.value])).toEqual([[{ __name__: "up", job: "gateway", ...target }, "1"]]);

  // Every series under its escaped name, one query each, exact values (at that scrape's time).
  const checks: [string, [Record<string, string>, string][]][] = [
    ['my_metric{k8s_pod="x"}', [[{ __name__: "my_metric", k8s_pod: "x", job: "gateway", ...target }, "3"]]],
    ['my_metric{k8s_pod="y"}', [[{ __name__: "my_metric", k8s_pod: "y", job: "gateway", ...target }, "4"]]],
    ["gr__e_bytes", [[{ __name__: "gr__e_bytes", stra_e: "hauptstraße 1", job: "gateway", ...target }, "5.5"]]],
    ["temp___celsius", [[{ __name__: "temp___celsius", zone_id: "ja", job: "gateway", ...target }, "-2.25"]]],
    ['http_latency_seconds_bucket{le="0.5"}', [[{ __name__: "http_latency_seconds_bucket", le: "0.5", job: "gateway", ...target }, "1"]]],
    ['http_latency_seconds_bucket{le="+Inf"}', [[{ __name__: "http_latency_seconds_bucket", le: "+Inf", job: "gateway", ...target }, "3"]]],
    ["http_latency_seconds_sum", [[{ __name__: "http_latency_seconds_sum", job: "gateway", ...target }, "4.5"]]],
    ["http_latency_seconds_count", [[{ __name__: "http_latency_seconds_count", job: "gateway", ...target }, "3"]]],
    ['ordinary_requests_total{path="/a"}', [[{ __name__: "ordinary_requests_total", path: "/a", job: "gateway", ...target }, "10"]]],
    ['ordinary_requests_total{http_route="/b"}', [[{ __name__: "ordinary_requests_total", http_route: "/b", job: "gateway", ...target }, "11"]]],
    ['ordinary_gauge{job="gateway"}', [[{ __name__: "ordinary_gauge", job: "gateway", ...target }, "42"]]],
    ['ordinary_gauge{job="j2"}', [[{ __name__: "ordinary_gauge", job: "j2", r_gion: "eu", ...target }, "7"]]],
    ["job_runs", [[{ __name__: "job_runs", a_b: "c", job: "j1", ...target }, "2"]]],
    ["batch_last_success", [[{ __name__: "batch_last_success", a_b: "c", job: "j1", team_name: "core", ...target }, "1700000000"]]],
    ['push_time_seconds{job="j1"}', [[{ __name__: "push_time_seconds", a_b: "c", job: "j1", ...target }, String(pushTimeJ1)]]],
    ['push_time_seconds{job="j2"}', [[{ __name__: "push_time_seconds", job: "j2", r_gion: "eu", ...target }, String(pushTimeJ2)]]],
  ];
  for (const [query, expected] of checks) expect(await values(prometheus, query, at), query).toEqual(expected);

  // Nothing else was stored: every series Prometheus holds apart from its own scrape metrics and
  // the gateway's self-metrics is one of the above (no name stored unescaped, none lost).
  const everything = await values(prometheus, '{job=~".+",__name__!~"up|scrape_.+|metrics_gateway_.+"}', at);
  const pushFailures: [Record<string, string>, string][] = [
    [{ __name__: "push_failure_time_seconds", a_b: "c", job: "j1", ...target }, "0"],
    [{ __name__: "push_failure_time_seconds", job: "j2", r_gion: "eu", ...target }, "0"],
  ];
  const byLabels = (a: [Record<string, string>, string], b: [Record<string, string>, string]) => byCodePoint(labelString(a[0]), labelString(b[0]));
  expect(everything).toEqual([...checks.flatMap(([, e]) => e), ...pushFailures].sort(byLabels));
  expect(everything.length).toBe(18);

  // Every sample the gateway served was ingested: what the gateway serves Prometheus's Accept
  // header now (nothing was pushed since, and the self-metrics' label sets are fixed).
  const scraped = await values(prometheus, "scrape_samples_scraped", at);
  const servedNow = sampleLines((await scrapeText(gateway, PROMETHEUS_2_ACCEPT)).text).length;
  expect(scraped).toEqual([[{ __name__: "scrape_samples_scraped", job: "gateway", ...target }, String(servedNow)]]);
  expect(await values(prometheus, "scrape_samples_post_metric_relabeling", at)).toEqual([[{ __name__: "scrape_samples_post_metric_relabeling", job: "gateway", ...target }, String(servedNow)]]);
  console.log(`utf8-scrape: the gateway served ${servedNow} samples (${everything.length} pushed series and push times, the rest self-metrics); Prometheus scraped ${scraped[0]?.[1]}`);
});
