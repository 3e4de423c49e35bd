/**
 * Small helpers shared by the integration tests that talk to a real Prometheus and to the gateway:
 * Prometheus's query API, the gateway's scrape as sample lines, and polling with a deadline.
 * Time only decides when to poll again or give up; nothing here asserts on how fast anything was.
 */
import type { Server } from "./servers";

export const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

/** The Accept header Prometheus 2.42 sends when it scrapes (captured; see wire-facts.md). */
export const PROMETHEUS_2_ACCEPT = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/** One instant-vector element: labels, sample time (s), value as Prometheus writes it. */
export interface Sample {
  metric: Record<string, string>;
  time: number;
  value: string;
}

async function api<T>(prometheus: Server, path: string, params: Record<string, string>): Promise<T> {
  const url = `${prometheus.url}${path}?${new URLSearchParams(params).toString()}`;
  const response = await fetch(url);
  const body = (await response.json()) as { status: string; data: T; error?: string };
  if (body.status !== "success") throw new Error(`${url}: ${response.status} ${body.error ?? JSON.stringify(body)}`);
  return body.data;
}

/** An instant query (at `timeMs`, or now), sorted by labels so results compare exactly. */
export async function instant(prometheus: Server, query: string, timeMs?: number): Promise<Sample[]> {
  const params: Record<string, string> = { query };
  if (timeMs !== undefined) params.time = (timeMs / 1000).toFixed(3);
  const data = await api<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>(prometheus, "/api/v1/query", params);
  if (data.resultType !== "vector") throw new Error(`${query}: expected a vector, got ${data.resultType}`);
  return data.result.map((r) => ({ metric: r.metric, time: r.value[0], value: r.value[1] })).sort((a, b) => byCodePoint(labelString(a.metric), labelString(b.metric)));
}

/** An instant query's result without times: `[labels, value]` pairs, sorted. */
export async function values(prometheus: Server, query: string, timeMs?: number): Promise<[Record<string, string>, string][]> {
  return (await instant(prometheus, query, timeMs)).map((s) => [s.metric, s.value]);
}

/** A range-vector selector's raw samples (`query` like `foo[10m]`): `[labels, [time s, value][]]`, sorted. */
export async function rawSamples(prometheus: Server, query: string, timeMs?: number): Promise<[Record<string, string>, [number, string][]][]> {
  const params: Record<string, string> = { query };
  if (timeMs !== undefined) params.time = (timeMs / 1000).toFixed(3);
  const data = await api<{ resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] }>(prometheus, "/api/v1/query", params);
  if (data.resultType !== "matrix") throw new Error(`${query}: expected a matrix, got ${data.resultType}`);
  return data.result.map((r): [Record<string, string>, [number, string][]] => [r.metric, r.values]).sort((a, b) => byCodePoint(labelString(a[0]), labelString(b[0])));
}

/** Plain code-unit order (not the locale's), so a sorted result is the same everywhere. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A label set as one string, names sorted: what results are sorted by. */
export function labelString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",");
}

/** The gateway's scrape (text, as Prometheus 2.42 asks for it unless `accept` says otherwise). */
export async function scrapeText(gateway: Server, accept = PROMETHEUS_2_ACCEPT): Promise<{ contentType: string; text: string }> {
  const response = await fetch(`${gateway.url}/metrics`, { headers: { Accept: accept } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${gateway.url}/metrics answered ${response.status}: ${text.slice(0, 500)}`);
  return { contentType: response.headers.get("content-type") ?? "", text };
}

/** The sample lines of an exposition (no comments, no blank lines). */
export function sampleLines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

/** The value of the one sample line `<series> <value>` (series written exactly as the scrape writes it), or undefined. */
export function sampleValue(text: string, series: string): number | undefined {
  for (const line of sampleLines(text)) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/**
 * Calls `probe` every `everyMs` until `done` accepts its result, and returns that result; after
 * `deadlineMs` fails with `what` and the last result (a give-up limit, not a speed assertion).
 */
export async function pollUntil<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, deadlineMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let last: T | undefined;
  let error: unknown;
  for (;;) {
    try {
      last = await probe();
      error = undefined;
      if (done(last)) return last;
    } catch (e) {
      error = e;
    }
    if (Date.now() > deadline) {
      const seen = error !== undefined ? `the last attempt failed: ${error instanceof Error ? error.message : String(error)}` : `last seen: ${JSON.stringify(last)}`;
      throw new Error(`gave up after ${deadlineMs / 1000} s waiting for ${what}; ${seen}`);
    }
    await sleep(everyMs);
  }
}
