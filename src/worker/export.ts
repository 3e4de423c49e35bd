/**
 * The cron export: snapshot the aggregator, encode remote write 1.0, send it to
 * SECRET_PROM_ENDPOINT, and report the outcome back to the aggregator.
 */
import { snapshotShards } from "./reads";
import { sendBatches, type SendConfig, type SendDeps } from "../wire/remote-write/send";
import { encodeWriteRequests } from "../wire/remote-write/write-request";
import { shardStub } from "../aggregator/objects";
import type { ExportReport } from "../common/self-metrics";
import { allShards, shardsToRead } from "./shards";

/** The export's settings from the environment, or undefined when no endpoint is configured. */
export function exportConfig(env: Env): (SendConfig & { batchSize: number }) | undefined {
  const endpoint = (env.SECRET_PROM_ENDPOINT ?? "").trim();
  if (endpoint === "") return undefined;
  return {
    endpoint,
    user: env.SECRET_PROM_USER,
    token: env.SECRET_PROM_TOKEN,
    batchSize: Math.floor(positive(env.REMOTE_WRITE_BATCH_SIZE, 2000)),
    concurrency: Math.floor(positive(env.REMOTE_WRITE_CONCURRENCY, 4)),
    budgetMs: positive(env.REMOTE_WRITE_BUDGET_MS, 20_000),
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
  let url: URL;
  try {
    url = new URL(config.endpoint);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
  } catch {
    console.error(`remote write: SECRET_PROM_ENDPOINT is not an http(s) URL; set it to e.g. https://prometheus-us-central1.grafana.net/api/prom/push`);
    return undefined;
  }
  const started = deps.now();
  const shards = await shardsToRead(env);
  const timestampMs = await shardStub(env, 0).exportTimestamp(scheduledTime);
  const snapshot = await snapshotShards(env, shards);
  const encoded = encodeWriteRequests(snapshot.families, snapshot.stale, {
    timestampMs,
    maxSeriesPerRequest: config.batchSize,
  });
  const sent = await sendBatches(encoded.batches, config, deps);
  const report: ExportReport = { ...sent, timestampMs, dropped: { ...encoded.dropped }, durationMs: deps.now() - started };
  await allShards(shards, "export bookkeeping", (i) => shardStub(env, i).exported(report, snapshot.upTo[i] ?? 0, i === 0));
  const dropped = Object.values(encoded.dropped).reduce((a, b) => a + b, 0);
  console.log(
    `remote write: ${sent.ok ? "ok" : "FAILED"}, ${encoded.batches.length} requests, ${sent.samplesSent} samples sent, ${sent.samplesFailed} failed, ${sent.retries} retries, ${dropped} series dropped, ${report.durationMs} ms`,
  );
  return report;
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n >= 1 ? n : fallback;
}
