/**
 * What expires when: the next expiry of a shard (a series' own TTL, a group's, a cumulative
 * source's), and one bounded chunk of what has expired, planned as deletes for the alarm's sweep.
 */
import { groupExpired } from "./pages";
import { Stage } from "./plan";
import type { ShardState } from "./state";

/** Series removed per transaction by a sweep: writes wait at most one such transaction. */
export const SWEEP_CHUNK = 2_000;

/** The next time something expires in `state`: a series, a group, or a source's last values. */
export function nextExpiry(state: ShardState, sourceTtlMs: number): number | undefined {
  let next = state.expiry.peek((e) => state.currentExpiry(e))?.at;
  for (const group of state.groups.values()) {
    if (group.key === "" || group.ttlMs <= 0 || group.pushTime <= 0) continue;
    const at = group.pushTime + group.ttlMs;
    if (next === undefined || at < next) next = at;
  }
  for (const source of state.sources.values()) {
    const at = source.updated + sourceTtlMs;
    if (next === undefined || at < next) next = at;
  }
  return next;
}

/** A sweep chunk: its deletes on a stage, the groups it empties, and the heap entries it took (to put back if storage refuses). */
export interface SweepChunk {
  stage: Stage;
  removed: number;
  /** Expired groups all of whose series are in this chunk. */
  groups: string[];
  taken: { at: number; family: import("./family").FamilyState; key: string }[];
}

/**
 * Plans up to `max` deletes of what expired by `now`: expired groups' series first, then series
 * past their own TTL (earliest first).
 */
export function planSweep(state: ShardState, now: number, max: number, groupSeries: (group: string) => Map<string, string[]>): SweepChunk {
  const stage = new Stage(state);
  let n = 0;
  const groups: string[] = [];
  for (const group of state.groups.values()) {
    if (group.key === "" || !groupExpired(group, now)) continue;
    for (const [name, keys] of groupSeries(group.key)) {
      const f = stage.family(name);
      for (const key of keys) {
        if (n >= max) break;
        stage.delete(f, key);
        n++;
      }
    }
    if (n < max) groups.push(group.key);
    if (n >= max) break;
  }
  const taken: SweepChunk["taken"] = [];
  while (n < max) {
    const top = state.expiry.peek((e) => state.currentExpiry(e));
    if (top === undefined || top.at > now) break;
    state.expiry.pop();
    taken.push(top);
    stage.delete(stage.family(top.family.name), top.key);
    n++;
  }
  return { stage, removed: n, groups, taken };
}
