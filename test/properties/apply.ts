/**
 * Applying generated operations to the gateway as deployed with SHARDS = n (the entrypoint class
 * called directly, a fresh execution context per call, drained after it so nothing it started in
 * the background lands later), recording each outcome as plain data.
 */
import { abortAllDurableObjects, createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { REGISTRY_NAME, shardName } from "../../src/aggregator/objects";
import type { ExportReport } from "../../src/common/self-metrics";
import { isLegacyLabelName } from "../../src/common/names";
import Gateway from "../../src/worker/entrypoint";
import { groupCommit } from "../../src/worker/group-commit";
import { renderBody } from "./bodies";
import { type Labels, type Op, str } from "./ops";

/** What an operation returned: its result, or the name of the error it was rejected with. */
export type Outcome = { ok: unknown } | { error: string };

/** The most shards any test run uses: a delete with this many covers every shard written to. */
export const MAX_SHARDS = 5;

/** Runs `call` on a gateway with SHARDS = `shards`, then waits for what it left running. */
export async function withGateway<T>(shards: number, call: (g: Gateway) => Promise<T>): Promise<T> {
  const ctx = createExecutionContext();
  const g = new Gateway(ctx, { ...env, SHARDS: String(shards) });
  try {
    return await call(g);
  } finally {
    await waitOnExecutionContext(ctx);
  }
}

/**
 * Empties every shard (the registry remembers that up to {@link MAX_SHARDS} were used, so reads
 * cover them all), and returns what the type registry still holds afterwards: families and label
 * names no shard holds any more, which `delete("__all")` should have released. Whatever is left is
 * then wiped (and the objects restarted to reload), so the next run starts clean either way.
 */
export async function reset(): Promise<string[]> {
  await withGateway(MAX_SHARDS, (g) => g.delete("__all"));
  alignRotation();
  await deliverStaleMarkers();
  const left = await registered();
  if (left.length > 0) {
    await runInDurableObject(env.REGISTRY.getByName(REGISTRY_NAME), (_instance, state) => {
      for (const table of registryTables(state.storage.sql)) state.storage.sql.exec(`DELETE FROM "${table}"`);
    });
    await abortAllDurableObjects();
  }
  return left;
}

async function settle(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    const ok = await call();
    return { ok: ok ?? null };
  } catch (error) {
    return { error: error instanceof Error ? error.name : `non-Error ${String(error)}` };
  }
}

/** An HTTP answer as an outcome: 2xx with its JSON body (or null), else the error name of its JSON body. */
async function httpOutcome(response: Response): Promise<Outcome> {
  const text = await response.text();
  if (response.ok) return { ok: text === "" ? null : (JSON.parse(text) as unknown) };
  try {
    return { error: (JSON.parse(text) as { error: string }).error };
  } catch {
    return { error: `HTTP ${response.status} ${text.slice(0, 100)}` };
  }
}

/**
 * What the type registry holds in storage, one line per row of each of its tables but its own
 * bookkeeping (`registry_state`: the most shards ever used): families' types and label names,
 * whatever the schema is at the moment. Sorted.
 */
export async function registered(): Promise<string[]> {
  return runInDurableObject(env.REGISTRY.getByName(REGISTRY_NAME), (_instance, state) => {
    const sql = state.storage.sql;
    const out: string[] = [];
    for (const table of registryTables(sql)) {
      for (const row of sql.exec(`SELECT * FROM "${table}"`).toArray()) {
        out.push(`${table} ${Object.entries(row).map(([k, v]) => `${k}=${typeof v === "string" ? str(v) : String(v)}`).join(" ")}`);
      }
    }
    return out.sort();
  });
}

function registryTables(sql: SqlStorage): string[] {
  return sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
    .toArray()
    .map((r) => r.name)
    .filter((n) => n !== "registry_state" && !n.startsWith("_cf_") && !n.startsWith("sqlite_"));
}

/**
 * The tests' env has an export endpoint, so every deleted series is kept for a stale marker until
 * an export delivers it; no cron runs here, and thousands of them (with 65,536-character label
 * values) slowed every later case. Told that an export delivered them all, the shards drop them.
 */
async function deliverStaleMarkers(): Promise<void> {
  const report: ExportReport = {
    ok: true,
    samplesSent: 0,
    samplesFailed: 0,
    attempts: { success: 0, client_error: 0, server_error: 0, rate_limited: 0, network_error: 0 },
    retries: 0,
    timestampMs: 0,
    dropped: {},
    durationMs: 0,
  };
  for (let i = 0; i < MAX_SHARDS; i++) await env.AGGREGATOR.getByName(shardName(i)).exported(report, Number.MAX_SAFE_INTEGER, false);
}

/**
 * Ungrouped writes rotate over the shards from a counter of the isolate (src/worker/group-commit.ts)
 * that every earlier write moved: turned until the next ungrouped write goes to shard 0 whatever
 * SHARDS is (a multiple of 1..5), so that a case plays the same placements every time it runs
 * (while shrinking too), whatever ran before it.
 */
function alignRotation(): void {
  for (let i = 0; i < ROTATION && groupCommit.shardForUngrouped(ROTATION) !== ROTATION - 1; i++);
}
const ROTATION = 60;

/** Percent-encodes UTF-8 bytes (a lone surrogate becomes U+FFFD, as any HTTP client's encoder makes it). */
function pct(s: string): string {
  return [...new TextEncoder().encode(s)].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");
}

function base64url(s: string): string {
  if (s === "") return "=";
  const bytes = new TextEncoder().encode(s);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** `/metrics/job/<job>{/<label>/<value>}`: `job` first, plain segments where they can be, `@base64` otherwise. */
export function groupPath(group: Labels): string {
  const entries = Object.entries(group).sort(([a], [b]) => (a === "job" ? -1 : b === "job" ? 1 : 0));
  const segments = entries.map(([name, value]) => {
    const plain = /^[A-Za-z0-9_.~-]+$/.test(value) && isLegacyLabelName(name);
    return plain ? `${name}/${value}` : `${pct(name)}@base64/${base64url(value)}`;
  });
  return `/metrics/${segments.join("/")}`;
}

const OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/** Applies one operation; `restart` restarts every Durable Object. */
export async function apply(shards: number, op: Op): Promise<Outcome> {
  if (op.op === "restart") {
    await abortAllDurableObjects();
    return { ok: "restarted" };
  }
  return withGateway(shards, async (g) => {
    switch (op.op) {
      case "inc":
        return settle(() => g.inc(op.name, op.labels, op.value));
      case "set":
        return settle(() => g.set(op.name, op.labels, op.value));
      case "observe":
        return settle(() => g.observe(op.name, op.labels, op.value, op.buckets));
      case "delete":
        return settle(() => g.delete(op.name, op.labels));
      case "deleteAll":
        return settle(() => g.delete("__all"));
      case "scrape":
        return settle(async () => {
          await g.scrape();
          return "scraped";
        });
      case "deleteGroup":
        if (op.via === "rpc") return settle(() => g.deleteGroup(op.group));
        return httpOutcome(await g.fetch(new Request(`http://gateway${groupPath(op.group)}`, { method: "DELETE" })));
      case "push": {
        const body = renderBody(op.families, op.om, op.damage);
        if (op.via === "rpc") {
          const options = { ...(op.om ? { contentType: OPENMETRICS } : {}), ...(op.group === undefined ? {} : { group: op.group }), mode: op.mode };
          return settle(() => g.push(body, options));
        }
        const path = op.group === undefined ? "/metrics" : groupPath(op.group);
        const method = op.group !== undefined && op.mode === "replace" ? "PUT" : "POST";
        const headers: Record<string, string> = op.om ? { "Content-Type": OPENMETRICS } : {};
        return httpOutcome(await g.fetch(new Request(`http://gateway${path}`, { method, body, headers })));
      }
    }
  });
}
