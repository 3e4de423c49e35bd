/**
 * Reads across shards: the scrape (families one shard holds come as that shard's cached text, the
 * rest are merged with the aggregation rules), the export snapshot, and the operators' status.
 */
import type { ExpositionFormat } from "../../rpc";
import type { GroupView, ShardCatalog, ShardSnapshot, StatusView } from "../aggregator/aggregator";
import { renderFamily, renderHeader, renderSeries } from "../wire/exposition/format";
import type { MetricType } from "../common/model";
import type { StaleSeries } from "../wire/remote-write/write-request";
import { newCounters, pushTimeFamilies, renderSelfMetrics, selfFamilies, type Counters } from "../common/self-metrics";
import { mergeShardFamilies, type ShardFamily } from "../aggregator/shard-merge";
import { shardStub } from "../aggregator/objects";
import { allShards } from "./shards";

/** The exposition of everything the shards hold, families by name, series by labels, in parts to stream. */
export async function scrapeShards(env: Env, shards: number, format: ExpositionFormat): Promise<string[]> {
  if (shards === 1) return (await allShards(1, "scrape", () => shardStub(env, 0).render(format)))[0] ?? [];
  const openmetrics = format === "openmetrics";
  const catalogs = (await allShards(shards, "scrape", (i) => shardStub(env, i).catalog())) as ShardCatalog[];

  // Which shards hold each family.
  const holders = new Map<string, number[]>();
  const meta = new Map<string, { type: MetricType; help: string; unit: string }>();
  catalogs.forEach((catalog, i) => {
    for (const [name, type, help, unit] of catalog.families) {
      pushTo(holders, name, i);
      const known = meta.get(name);
      if (known === undefined || (known.help === "" && help !== "")) meta.set(name, { type, help, unit });
    }
  });
  const textNames: string[][] = catalogs.map(() => []);
  const dataNames: string[][] = catalogs.map(() => []);
  for (const [name, list] of holders) {
    const only = list.length === 1 ? list[0] : undefined;
    if (only !== undefined) textNames[only]?.push(name);
    else for (const i of list) dataNames[i]?.push(name);
  }
  const parts = await allShards(shards, "scrape", (i) => shardStub(env, i).scrapeParts(format, textNames[i] ?? [], dataNames[i] ?? []));

  const texts = new Map<string, string>();
  parts.forEach((part, i) => (textNames[i] ?? []).forEach((name, j) => texts.set(name, part.texts[j] ?? "")));
  const data = byName(parts.flatMap((part) => part.data as ShardFamily[]));

  let series = 0;
  const out: [string, string][] = [];
  for (const [name, list] of holders) {
    const m = meta.get(name);
    if (m === undefined) continue;
    const view = { name, type: m.type, help: m.help, unit: m.unit };
    if (list.length === 1) {
      series += catalogs[list[0] ?? 0]?.families.find((f) => f[0] === name)?.[4] ?? 0;
      out.push([name, renderHeader(view, openmetrics) + (texts.get(name) ?? "")]);
    } else {
      const merged = mergeShardFamilies(data.get(name) ?? []);
      series += merged.series.length;
      out.push([name, renderHeader(view, openmetrics) + renderSeries({ ...view, series: merged.series.map(([k, v]) => [k, v] as const) }, openmetrics)]);
    }
  }
  out.push(["metrics_gateway_", renderSelfMetrics({ families: holders.size, series, counters: sumCounters(catalogs.map((c) => c.counters)) }, openmetrics)]);
  for (const f of pushTimeFamilies(catalogs.map((c) => c.groups))) out.push([f.name, renderFamily(f, openmetrics)]);
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const chunks = out.map(([, t]) => t);
  if (openmetrics) chunks.push("# EOF\n");
  return chunks;
}

/** Shards' push counters added up; the export's counters are shard 0's (it runs the export bookkeeping). */
export function sumCounters(all: readonly Counters[]): Counters {
  const out = newCounters();
  all.forEach((c, i) => {
    out.accepted += c.accepted;
    out.writeCalls += c.writeCalls;
    for (const [reason, n] of c.rejected) out.rejected.set(reason, (out.rejected.get(reason) ?? 0) + n);
    if (i === 0) out.export = c.export;
  });
  return out;
}

/** What the export sends: every shard's series merged, stale markers for series gone from every shard. */
export interface MergedSnapshot {
  families: { name: string; type: MetricType; help: string; unit: string; series: [string, Float64Array | number][] }[];
  stale: StaleSeries[];
  /** Per shard: the tombstones its snapshot covered. */
  upTo: number[];
}

export async function snapshotShards(env: Env, shards: number): Promise<MergedSnapshot> {
  const snaps = (await allShards(shards, "export", (i) => shardStub(env, i).snapshot())) as ShardSnapshot[];
  const named = byName(snaps.flatMap((snap) => snap.families));
  const families: MergedSnapshot["families"] = [];
  const live = new Set<string>();
  let series = 0;
  for (const list of named.values()) {
    const merged = mergeShardFamilies(list);
    series += merged.series.length;
    for (const [key] of merged.series) live.add(`${merged.name}\0${key}`);
    families.push({ name: merged.name, type: merged.type, help: merged.help, unit: merged.unit, series: merged.series.map(([k, v]) => [k, v]) });
  }
  families.push(...selfFamilies({ families: named.size, series, counters: sumCounters(snaps.map((s) => s.counters)) }));
  // Prometheus learns of groups through the export when nothing scrapes the gateway: their push times go too.
  families.push(...pushTimeFamilies(snaps.map((s) => s.groups)));
  // A series deleted on one shard but still held by another is not stale.
  const stale: StaleSeries[] = [];
  const seen = new Set<string>();
  for (const snap of snaps) {
    for (const s of snap.stale) {
      const id = `${s.family}\0${s.key}`;
      if (live.has(id) || seen.has(id)) continue;
      seen.add(id);
      stale.push(s);
    }
  }
  return { families, stale, upTo: snaps.map((s) => s.upTo) };
}

/** The operators' view across shards: groups with the same key merged family by family. */
export async function statusShards(env: Env, shards: number): Promise<StatusView> {
  const views = (await allShards(shards, "status", (i) => shardStub(env, i).status())) as StatusView[];
  if (views.length === 1 && views[0] !== undefined) return views[0];
  const groups = new Map<string, GroupView[]>();
  for (const view of views) for (const g of view.groups) pushTo(groups, g.key, g);
  const merged: GroupView[] = [];
  const familyNames = new Set<string>();
  let series = 0;
  for (const [key, list] of groups) {
    const families = [...byName(list.flatMap((g) => g.families)).values()].map((fams) => mergeShardFamilies(fams)).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const f of families) {
      familyNames.add(f.name);
      series += f.series.length;
    }
    merged.push({
      key,
      pushTime: Math.max(...list.map((g) => g.pushTime)),
      failureTime: Math.max(...list.map((g) => g.failureTime)),
      families,
    });
  }
  merged.sort((a, b) => (a.key < b.key ? -1 : 1));
  const first = views[0];
  return {
    families: familyNames.size,
    series,
    groups: merged,
    remoteWrite: first?.remoteWrite ?? { lastRunMs: 0, lastRunOk: false, lastSuccessSeconds: 0, lastDurationSeconds: 0, samplesSent: 0, samplesFailed: 0, pendingStaleMarkers: 0 },
  };
}

/** Families of several shards, by name. */
function byName(families: readonly ShardFamily[]): Map<string, ShardFamily[]> {
  const out = new Map<string, ShardFamily[]>();
  for (const family of families) pushTo(out, family.name, family);
  return out;
}

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
