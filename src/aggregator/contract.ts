/**
 * What a shard's RPC methods take and give: the contract between the stateless Worker and the
 * aggregator Durable Objects (types, and the limits a configuration sets).
 */
import type { Counters } from "../common/self-metrics";
import type { PackedSeries } from "./codec";
import type { PlanResult, WriteLimits } from "./plan";

/** A write's outcome as a shard reports it (plain data: it crosses requests in group commit). */
export type Outcome = { ok: ShardPushResult } | { error: { name: string; message: string } };

/** A shard's push result: what the caller gets, plus the families a replacing push emptied here. */
export interface ShardPushResult extends PlanResult {
  emptied?: string[];
}

/** A shard's delete: how many series went, and the families it no longer holds at all. */
export interface ShardDeleteResult {
  deleted: number;
  /**
   * A hash of each series that went (family and label key), so that a delete across shards counts
   * a series once even if ungrouped writes left parts of it on several shards.
   */
  hashes?: number[];
  emptied?: string[];
}

/** What a shard reports in the first step of a read: counts and counters, no series. */
export interface Catalog {
  families: number;
  series: number;
  bytes: number;
  groups: number;
  counters: Counters;
  /** Stale markers owed by the export. */
  staleMarkers: number;
  /**
   * The newest stale row's id (0: none). An export run sends the rows up to the one its catalog
   * saw: a series deleted during the run may have gone out with a value at the run's timestamp,
   * and its marker waits for the next run (the same timestamp twice is a 400 for the whole request).
   */
  staleUpTo: number;
  /** Series of the ungrouped writes. */
  ungrouped: number;
  /** Bytes of rendered text the shard keeps for scrapes (see src/aggregator/pages.ts). */
  renderedBytes: number;
}

/** One group as the status views show it. */
export type GroupSummary = [key: string, pushTime: number, failureTime: number, ttlMs: number, series: number, families: number];

/** One family as the status views show it (series: this shard's). */
export type FamilySummary = [name: string, type: string, help: string, unit: string, series: number];

/** A shard's series of one family and one group, as hashes for the registry's directory. */
export interface DirectoryPart {
  group: string;
  hashes: number[];
}

/** Stale markers for the export, in pages by row. */
export interface StalePage {
  series: PackedSeries[];
  /** The last stale row in this page; pass it as `after` for the next, and to `exported` as `upTo`. */
  lastId: number;
  more: boolean;
}

/** The limits a configuration sets (defaults as in wrangler.toml). */
export function limitsOf(env: Env): WriteLimits {
  return {
    maxSeries: positive(env.MAX_SERIES, 150_000),
    maxBytes: positive(env.MAX_SHARD_BYTES, 64 * 1024 * 1024),
    maxSeriesPerFamily: positive(env.MAX_SERIES_PER_FAMILY, 10_000),
  };
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n >= 1 ? n : fallback;
}
