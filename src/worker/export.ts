/**
 * The cron export: read every shard a page at a time, merge, encode remote write 1.0 and send each
 * request as soon as it is full (a few in flight), so the Worker's memory stays bounded however many
 * series there are; then the stale markers of deleted and expired series; then report back.
 */
import type { Catalog } from "../aggregator/contract";
import { shardStub } from "../aggregator/objects";
import { PUSH_FAILURE_TIME, PUSH_TIME } from "../aggregator/pages";
import { selfFamilies, type ExportReport } from "../common/self-metrics";
import { BatchSender, redactEndpoint, type SendConfig, type SendDeps } from "../wire/remote-write/send";
import { WriteRequestEncoder, type NameEscaping, type StaleSeries } from "../wire/remote-write/write-request";
import { mergedRuns } from "./merge-pages";
import { sumCounters } from "./scrape";
import { allShards, shardsToRead, withDeadline } from "./shards";

/** The export's settings from the environment, or undefined when no endpoint is configured. */
export function exportConfig(env: Env): (SendConfig & { batchSize: number; nameEscaping: NameEscaping }) | undefined {
  const endpoint = (env.SECRET_PROM_ENDPOINT ?? "").trim();
  if (endpoint === "") return undefined;
  const escaping = env.REMOTE_WRITE_NAME_ESCAPING ?? "underscores";
  return {
    endpoint,
    user: env.SECRET_PROM_USER,
    token: env.SECRET_PROM_TOKEN,
    batchSize: Math.floor(positive(env.REMOTE_WRITE_BATCH_SIZE, 2000)),
    concurrency: Math.floor(positive(env.REMOTE_WRITE_CONCURRENCY, 4)),
    budgetMs: positive(env.REMOTE_WRITE_BUDGET_MS, 20_000),
    nameEscaping: escaping === "allow-utf-8" || escaping === "drop" ? escaping : "underscores",
  };
}

export const realDeps: SendDeps = {
  fetch: (request) => fetch(request),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
  random: () => Math.random(),
};

/**
 * One export run. Without SECRET_PROM_ENDPOINT it logs one line and returns; otherwise it never
 * throws for a receiver's failure (that is counted in the self-metrics and logged), so a bad
 * receiver cannot turn the cron into an error storm.
 */
export async function runExport(env: Env, scheduledTime: number, deps: SendDeps = realDeps): Promise<ExportReport | undefined> {
  const config = exportConfig(env);
  if (config === undefined) {
    console.log("remote write: SECRET_PROM_ENDPOINT is not set, nothing to export");
    return undefined;
  }
  try {
    const url = new URL(config.endpoint);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
  } catch {
    console.error("remote write: SECRET_PROM_ENDPOINT is not an http(s) URL; set it to e.g. https://prometheus-us-central1.grafana.net/api/prom/push");
    return undefined;
  }
  const started = deps.now();
  const shards = await shardsToRead(env);
  const timestampMs = await shardStub(env, 0).exportTimestamp(scheduledTime);
  const catalogs = (await allShards(shards, "export", (i) => shardStub(env, i).catalog())) as Catalog[];
  const encoder = new WriteRequestEncoder({ timestampMs, maxSeriesPerRequest: config.batchSize, nameEscaping: config.nameEscaping });
  const sender = new BatchSender(config, deps);
  let requests = 0;
  const flush = async () => {
    for (const batch of encoder.take()) {
      requests++;
      await sender.submit(batch);
    }
  };

  let families = 0;
  let series = 0;
  for await (const run of mergedRuns(env, shards, { what: "export" })) {
    if (run.family.name !== PUSH_TIME && run.family.name !== PUSH_FAILURE_TIME) {
      if (run.first) families++;
      series += run.series.to - run.series.from;
    }
    encoder.family({ ...run.family, series: run.series });
    await flush();
  }
  for (const f of selfFamilies({ families, series, counters: sumCounters(catalogs.map((c) => c.counters)) })) encoder.family(f);

  // Stale markers: each shard's, a page at a time; a series deleted on one shard but still held by
  // another (ungrouped writes rotate over shards) is not stale, nor is one that came back.
  const upTo = new Array<number>(shards).fill(0);
  const seen = new Set<string>();
  for (let i = 0; i < shards; i++) {
    for (let after = 0; ; ) {
      // Only the rows there were when the run began (its catalogs): see Catalog.staleUpTo.
      const page = await withDeadline(shardStub(env, i).stale(after, undefined, catalogs[i]?.staleUpTo ?? 0), `export: shard ${i}`);
      const fresh = page.series.filter((s) => {
        const id = `${s.family}\u0000${s.key}`;
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      });
      if (fresh.length > 0) {
        const wanted = fresh.map((s): [string, string] => [s.family, s.key]);
        const held = await allShards(shards, "export", (j) => shardStub(env, j).live(wanted));
        const stale: StaleSeries[] = fresh
          .filter((_, k) => !held.some((h) => h[k] === true))
          .map((s) => ({ family: s.family, type: s.type, key: s.key, value: s.value }));
        encoder.stale(stale);
        await flush();
      }
      upTo[i] = page.lastId;
      if (!page.more) break;
      after = page.lastId;
    }
  }
  const result = encoder.finish();
  for (const batch of result.batches) {
    requests++;
    await sender.submit(batch);
  }
  const sent = await sender.finish();
  const report: ExportReport = { ...sent, timestampMs, dropped: { ...result.dropped }, durationMs: deps.now() - started };
  await allShards(shards, "export bookkeeping", (i) => shardStub(env, i).exported(report, upTo[i] ?? 0, i === 0));
  const dropped = Object.values(result.dropped).reduce((a, b) => a + b, 0);
  console.log(
    `remote write to ${redactEndpoint(config.endpoint)}: ${sent.ok ? "ok" : "FAILED"}, ${requests} requests, ${sent.samplesSent} samples sent, ${sent.samplesFailed} failed, ${sent.retries} retries, ${dropped} series dropped, ${report.durationMs} ms`,
  );
  return report;
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n >= 1 ? n : fallback;
}
