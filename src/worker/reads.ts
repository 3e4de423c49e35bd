/**
 * The operators' views across shards: counts, groups and families (exact series counts come from
 * the registry's directory; the shards hand over their summaries a page at a time), and the
 * Pushgateway-shaped `/api/v1/metrics` streamed group by group.
 */
import type { Catalog, FamilySummary, GroupSummary } from "../aggregator/contract";
import { REGISTRY_NAME, shardStub } from "../aggregator/objects";
import type { FamilyCount } from "../aggregator/registry";
import type { Counters } from "../common/self-metrics";
import { sumCounters } from "./scrape";
import { allShards, withDeadline } from "./shards";

/** One group as the status views show it. */
export interface GroupStatus {
  key: string;
  pushTime: number;
  failureTime: number;
  ttlMs: number;
  families: number;
  series: number;
}

/** One family as the status views show it. */
export interface FamilyStatus {
  name: string;
  type: string;
  help: string;
  series: number;
}

/** Everything the status page and `/api/v1/status` show. */
export interface StatusData {
  families: FamilyStatus[];
  groups: GroupStatus[];
  series: number;
  counters: Counters;
  staleMarkers: number;
  bytes: number;
  shards: number;
  /** The ten families with the most series, most first. */
  top: FamilyStatus[];
}

/** Gathers the status views' data from every shard and the registry. */
export async function statusData(env: Env, shards: number): Promise<StatusData> {
  const catalogs = (await allShards(shards, "status", (i) => shardStub(env, i).catalog())) as Catalog[];
  const counts = (await withDeadline(env.REGISTRY.getByName(REGISTRY_NAME).counts(), "status: the registry")) as FamilyCount[];
  const exact = new Map(counts.map((c) => [c.name, c]));

  // Families: metadata from the shards (paged), series counts exact from the registry.
  const families = new Map<string, FamilyStatus>();
  await Promise.all(
    Array.from({ length: shards }, async (_, i) => {
      for (let after: string | null = null; ; ) {
        const page = (await withDeadline(shardStub(env, i).families(after), `status: shard ${i}`)) as { families: FamilySummary[]; next: string | null };
        for (const [name, type, help, , series] of page.families) {
          const known = families.get(name);
          if (known === undefined) families.set(name, { name, type, help, series: exact.get(name)?.series ?? series });
          else if (known.help === "" && help !== "") known.help = help;
        }
        if (page.next === null) break;
        after = page.next;
      }
    }),
  );

  // Groups: push times from the shards (the latest, if a group moved shards), series from the registry.
  const perGroup = new Map<string, { families: number; series: number }>();
  for (const c of counts) {
    for (const [group, n] of c.groups) {
      const g = perGroup.get(group) ?? { families: 0, series: 0 };
      g.families++;
      g.series += n;
      perGroup.set(group, g);
    }
  }
  const groups = new Map<string, GroupStatus>();
  await Promise.all(
    Array.from({ length: shards }, async (_, i) => {
      for (let after: string | null = null; ; ) {
        const page = (await withDeadline(shardStub(env, i).groups(after), `status: shard ${i}`)) as { groups: GroupSummary[]; next: string | null };
        for (const [key, pushTime, failureTime, ttlMs] of page.groups) {
          const known = groups.get(key);
          const counted = perGroup.get(key) ?? { families: 0, series: 0 };
          groups.set(key, {
            key,
            pushTime: Math.max(pushTime, known?.pushTime ?? 0),
            failureTime: Math.max(failureTime, known?.failureTime ?? 0),
            ttlMs: Math.max(ttlMs, known?.ttlMs ?? 0),
            families: counted.families,
            series: counted.series,
          });
        }
        if (page.next === null) break;
        after = page.next;
      }
    }),
  );
  const ungrouped = perGroup.get("");
  if (ungrouped !== undefined) groups.set("", { key: "", pushTime: 0, failureTime: 0, ttlMs: 0, ...ungrouped });

  const familyList = [...families.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const top = [...familyList].sort((a, b) => b.series - a.series || (a.name < b.name ? -1 : 1)).slice(0, 10);
  return {
    families: familyList,
    groups: [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    series: familyList.reduce((n, f) => n + f.series, 0),
    counters: sumCounters(catalogs.map((c) => c.counters)),
    staleMarkers: catalogs.reduce((n, c) => n + c.staleMarkers, 0),
    bytes: catalogs.reduce((n, c) => n + c.bytes, 0),
    shards,
    top,
  };
}

/**
 * The groups every shard knows, in key order, with the ungrouped writes first when there are any:
 * what `/api/v1/metrics` lists (series counts are left at 0: that view counts nothing).
 */
export async function groupsOf(env: Env, shards: number): Promise<GroupStatus[]> {
  const catalogs = (await allShards(shards, "api", (i) => shardStub(env, i).catalog())) as Catalog[];
  const groups = new Map<string, GroupStatus>();
  await Promise.all(
    Array.from({ length: shards }, async (_, i) => {
      for (let after: string | null = null; ; ) {
        const page = (await withDeadline(shardStub(env, i).groups(after), `api: shard ${i}`)) as { groups: GroupSummary[]; next: string | null };
        for (const [key, pushTime, failureTime, ttlMs] of page.groups) {
          const known = groups.get(key);
          groups.set(key, {
            key,
            pushTime: Math.max(pushTime, known?.pushTime ?? 0),
            failureTime: Math.max(failureTime, known?.failureTime ?? 0),
            ttlMs: Math.max(ttlMs, known?.ttlMs ?? 0),
            families: 0,
            series: 0,
          });
        }
        if (page.next === null) break;
        after = page.next;
      }
    }),
  );
  const out = [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (catalogs.some((c) => c.ungrouped > 0)) out.unshift({ key: "", pushTime: 0, failureTime: 0, ttlMs: 0, families: 0, series: 0 });
  return out;
}
