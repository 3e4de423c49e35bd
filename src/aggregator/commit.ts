/**
 * Committing a stage: decide which rows to write (a chunk rewritten whole, or single-series rows,
 * whichever writes fewer rows without re-encoding a large chunk for a small change), write them in
 * one transaction, and only then apply the stage to memory. If storage throws, memory is untouched
 * and the transaction is rolled back: the write is absent everywhere.
 */
import type { SeriesValue } from "../common/model";
import type { PackedSeries } from "./codec";
import { IN_ROW, OVERLAY, type FamilyState } from "./family";
import type { Stage, StagedSeries, StageFamily } from "./plan";
import { CHUNK_BYTES, CHUNK_SERIES, groupExpiry, seriesBytes, type Chunk, type GroupState, type ShardState } from "./state";
import { sourceKey, sourceParts, type SourceState } from "./sources";
import type { FamilyRow, SeriesRow, StaleRow, Store } from "./store";

/** A series a commit removed (for stale markers and the registry's directory). */
export interface RemovedSeries {
  family: string;
  key: string;
  group: string;
}

export interface CommitResult {
  /** Families this shard no longer holds at all. */
  emptied: string[];
  removed: RemovedSeries[];
  /** Series new to this shard, by family name. */
  added: Map<string, string[]>;
}

export interface CommitOptions {
  now: number;
  /** Deleted series are remembered for a stale marker only when an export will send it. */
  exporting: boolean;
  /** Runs SQL atomically (`ctx.storage.transactionSync`). */
  transaction: (body: () => void) => void;
}

/** A series the commit adds to a chunk: the staged series itself, the member a rewritten chunk encodes. */
type Insert = StagedSeries;

/** What a commit does to one chunk. */
interface ChunkWork {
  chunk: Chunk | undefined;
  id: number;
  group: string;
  updates: { family: FamilyState; slot: number; series: StagedSeries }[];
  deletes: { family: FamilyState; slot: number }[];
  inserts: Insert[];
  rewrite: boolean;
  /** Members after the commit, for a rewrite. */
  members: PackedSeries[];
}

/** Bytes of chunk a commit re-encodes to save one row written (see the rewrite decision). */
export const REWRITE_BYTES_PER_ROW = 8 * 1024;

/** Writes a stage and applies it to memory. Throws (changing nothing) when storage does. */
export function commitStage(state: ShardState, store: Store, stage: Stage, options: CommitOptions): CommitResult {
  const work = new Map<number, ChunkWork>();
  const result: CommitResult = { emptied: [], removed: [], added: new Map() };
  const workFor = (id: number, chunk: Chunk | undefined, group: string): ChunkWork => {
    let w = work.get(id);
    if (w === undefined) {
      w = { chunk, id, group, updates: [], deletes: [], inserts: [], rewrite: false, members: [] };
      work.set(id, w);
    }
    return w;
  };
  const stale: PackedSeries[] = [];
  const familyRows: { name: string; put: boolean }[] = [];

  // 1. Per family: deletions, updates in place, and insertions (new series, or a series moving group).
  const inserts = new Map<string, Insert[]>();
  for (const f of stage.families.values()) {
    const existing = f.existing;
    // Only what the stage touched is visited: a hot counter in a family of 100,000 series costs
    // one series' work, not the family's.
    const remove = (key: string, slot: number, staged: StagedSeries | undefined) => {
      if (existing === undefined) return;
      const chunk = state.chunks.get(existing.chunk(slot));
      const group = chunk?.group.key ?? "";
      workFor(existing.chunk(slot), chunk, group).deletes.push({ family: existing, slot });
      result.removed.push({ family: existing.name, key, group });
      if (options.exporting && (staged === undefined || f.retyped)) {
        stale.push({ family: existing.name, type: existing.type, key, value: existing.value(slot), updated: options.now, expires: 0 });
      }
    };
    const type = f.type;
    const insert = (key: string, staged: StagedSeries, isNew: boolean) => {
      const list = inserts.get(staged.group);
      // The type the family has after the batch (a write later in it may have retyped the family).
      staged.type = type ?? stageType(stage, f.name);
      if (list === undefined) inserts.set(staged.group, [staged]);
      else list.push(staged);
      if (isNew) {
        const added = result.added.get(f.name);
        if (added === undefined) result.added.set(f.name, [key]);
        else added.push(key);
      }
    };
    if (existing !== undefined && f.retyped) {
      for (const [key, slot] of existing.slots) remove(key, slot, f.upserts.get(key));
      f.upserts.forEach((staged, key) => insert(key, staged, existing.slot(key) < 0));
    } else if (existing !== undefined) {
      f.upserts.forEach((staged, key) => {
        // The slot planning found; a key deleted earlier in the batch was not looked up then.
        const slot = staged.slot >= 0 ? staged.slot : f.deletes.has(key) ? existing.slot(key) : -1;
        if (slot < 0) {
          insert(key, staged, true);
          return;
        }
        const chunk = state.chunks.get(existing.chunk(slot));
        const group = chunk?.group.key ?? "";
        // Written again by its own group (even if deleted earlier in the batch): an update in place.
        if (staged.group === group) workFor(existing.chunk(slot), chunk, group).updates.push({ family: existing, slot, series: staged });
        else {
          remove(key, slot, staged);
          insert(key, staged, false);
        }
      });
      for (const key of f.deletes) {
        if (f.upserts.has(key)) continue;
        const slot = existing.slot(key);
        if (slot >= 0) remove(key, slot, undefined);
      }
    } else {
      f.upserts.forEach((staged, key) => insert(key, staged, true));
    }
    const live = liveAfter(f);
    if (live === 0) {
      if (existing !== undefined) {
        familyRows.push({ name: f.name, put: false });
        result.emptied.push(f.name);
      }
    } else if (f.metaChanged || f.retyped || existing === undefined) {
      familyRows.push({ name: f.name, put: true });
    }
  }

  // 2. New series go into their group's open chunk while it has room, then into new chunks.
  let nextId = state.nextChunk;
  for (const [groupKey, list] of inserts) {
    const group = state.groups.get(groupKey);
    let chunk = group?.open ?? undefined;
    let id = chunk?.id ?? nextId++;
    let count = chunk?.count ?? 0;
    let bytes = chunk?.bytes ?? 0;
    // Indexed loops over a push's series: a commit runs once per batch, mostly before the optimizing
    // compiler takes it, and an unoptimized for-of allocates an iterator result per element.
    for (let n = 0; n < list.length; n++) {
      const insert = list[n] as Insert;
      const size = seriesBytes(insert.key, insert.value);
      if (count >= CHUNK_SERIES || (count > 0 && bytes + size > CHUNK_BYTES)) {
        chunk = undefined;
        id = nextId++;
        count = 0;
        bytes = 0;
      }
      workFor(id, chunk, groupKey).inserts.push(insert);
      count++;
      bytes += size;
    }
  }

  // 3. Per chunk: rewrite it whole, or write single-series rows: whichever writes fewer rows,
  // unless a member that is in the chunk's row must leave it (then it is rewritten), and a large
  // chunk is not re-encoded for a small share of its members.
  const seriesRows: SeriesRow[] = [];
  const deleteRows = new Map<string, string[]>();
  const deleteRow = (family: string, key: string) => {
    const list = deleteRows.get(family);
    if (list === undefined) deleteRows.set(family, [key]);
    else list.push(key);
  };
  const chunkWrites: { id: number; group: string; members: PackedSeries[] | null }[] = [];
  for (const w of work.values()) {
    const chunk = w.chunk;
    const deleted = new Map<FamilyState, Set<number>>();
    for (const d of w.deletes) {
      let set = deleted.get(d.family);
      if (set === undefined) deleted.set(d.family, (set = new Set()));
      set.add(d.slot);
    }
    const countAfter = (chunk?.count ?? 0) - w.deletes.length + w.inserts.length;
    let mustRewrite = false;
    let overlaysLeft = chunk?.overlays ?? 0;
    for (const d of w.deletes) {
      const flags = d.family.flags(d.slot);
      if ((flags & IN_ROW) !== 0) mustRewrite = true;
      if ((flags & OVERLAY) !== 0) overlaysLeft--;
    }
    if (countAfter === 0) {
      if (chunk?.stored === true) chunkWrites.push({ id: w.id, group: w.group, members: null });
      for (const d of w.deletes) if ((d.family.flags(d.slot) & OVERLAY) !== 0) deleteRow(d.family.name, d.family.key(d.slot));
      continue;
    }
    const touched = w.updates.length + w.inserts.length;
    let bytesAfter = chunk?.bytes ?? 0;
    for (let n = 0; n < w.inserts.length; n++) {
      const i = w.inserts[n] as Insert;
      bytesAfter += seriesBytes(i.key, i.value);
    }
    // Rewriting costs one row (plus deleting the members' own rows) and re-encoding the chunk;
    // single rows cost one each. A row saved is worth re-encoding up to REWRITE_BYTES_PER_ROW of
    // chunk (microseconds, against a billed row), so a batch touching 40 series of a 50 KB chunk
    // rewrites it (1 row, not 40), while one hot counter in a full chunk stays a row of its own.
    const rowsSaved = touched - (1 + overlaysLeft);
    w.rewrite = mustRewrite || (rowsSaved >= 0 && (bytesAfter <= REWRITE_BYTES_PER_ROW || bytesAfter <= Math.max(1, rowsSaved) * REWRITE_BYTES_PER_ROW));
    if (w.rewrite) {
      const members: PackedSeries[] = [];
      if (chunk !== undefined && w.deletes.length === 0 && w.updates.length === chunk.count) {
        // Every member written again (a repeated PUT): the updates are the members.
        for (const u of w.updates) {
          members.push({ family: u.family.name, type: familyType(stage, u.family), key: u.family.key(u.slot), value: u.series.value, updated: u.series.updated, expires: u.series.expires });
          if ((u.family.flags(u.slot) & OVERLAY) !== 0) deleteRow(u.family.name, u.family.key(u.slot));
        }
      } else if (chunk !== undefined) {
        const updated = new Map<FamilyState, Map<number, StagedSeries>>();
        for (const u of w.updates) {
          let m = updated.get(u.family);
          if (m === undefined) updated.set(u.family, (m = new Map()));
          m.set(u.slot, u.series);
        }
        for (const [family, slots] of chunk.members) {
          const gone = deleted.get(family);
          const changed = updated.get(family);
          for (const slot of slots) {
            if (gone?.has(slot) === true) continue;
            const key = family.key(slot);
            const s = changed?.get(slot);
            members.push({
              family: family.name,
              type: familyType(stage, family),
              key,
              value: s?.value ?? family.value(slot),
              updated: s?.updated ?? family.updated(slot),
              expires: s?.expires ?? family.expires(slot),
            });
            if ((family.flags(slot) & OVERLAY) !== 0) deleteRow(family.name, key);
          }
        }
      }
      for (let n = 0; n < w.inserts.length; n++) members.push(w.inserts[n] as Insert);
      for (const d of w.deletes) if ((d.family.flags(d.slot) & OVERLAY) !== 0) deleteRow(d.family.name, d.family.key(d.slot));
      w.members = members;
      chunkWrites.push({ id: w.id, group: w.group, members });
    } else {
      for (const u of w.updates) seriesRows.push(row(u.family.name, u.family.key(u.slot), w.group, u.series, w.id));
      for (const i of w.inserts) seriesRows.push(row(i.family, i.key, w.group, i, w.id));
      for (const d of w.deletes) if ((d.family.flags(d.slot) & OVERLAY) !== 0) deleteRow(d.family.name, d.family.key(d.slot));
    }
  }

  // 4. Sources' new states (rewritten whole: a cumulative push carries its whole registry anyway).
  const sources: SourceState[] = [];
  for (const [id, pushed] of stage.sources) {
    const before = state.sources.get(id);
    const [source = "", group = ""] = id.split("\u0000");
    const series = new Map<string, Map<string, SeriesValue>>();
    if (before !== undefined && !stage.replacedSources.has(id)) for (const [family, keys] of before.series) series.set(family, new Map(keys));
    for (const [family, keys] of pushed) {
      let into = series.get(family);
      if (into === undefined) series.set(family, (into = new Map()));
      for (const [key, value] of keys) into.set(key, value);
    }
    sources.push({ source, group, updated: options.now, series, parts: before?.parts ?? 0 });
  }
  const typeOf = (family: string) => stage.families.get(family)?.type ?? state.families.get(family)?.type ?? "untyped";

  // Families' metadata is packed many to a row: the rows of the families written here.
  const metaPlan = state.metaPacks.plan(
    familyRows.filter((r) => r.put).map((r) => r.name),
    familyRows.filter((r) => !r.put).map((r) => r.name),
  );

  // 5. One transaction for everything.
  let staleRows: StaleRow[] = [];
  options.transaction(() => {
    for (const [id, names] of metaPlan.touched) {
      if (names.length === 0) store.deleteFamilyMeta(id);
      else store.putFamilyMeta(id, names.flatMap((name) => familyRow(state, stage, name) ?? []));
    }
    for (const c of chunkWrites) {
      if (c.members === null) store.deleteChunk(c.id);
      else store.putChunk(c.id, c.group, c.members);
    }
    for (const [family, keys] of deleteRows) store.deleteSeries(family, keys);
    if (seriesRows.length > 0) store.putSeries(seriesRows);
    for (const [key, g] of stage.groups) {
      if (key === "") continue;
      const group = state.groups.get(key);
      store.putGroup({ key, push_time: g.pushTime ?? group?.pushTime ?? 0, failure_time: g.failureTime ?? group?.failureTime ?? 0, ttl_ms: g.ttlMs ?? group?.ttlMs ?? 0 });
    }
    staleRows = putStale(store, options.now, stale);
    for (const source of sources) {
      const parts = sourceParts(source, typeOf);
      parts.forEach((part, i) => store.putSource(source.source, source.group, i, source.updated, part));
      if (source.parts > parts.length) store.deleteSource(source.source, source.group, parts.length);
      source.parts = parts.length;
    }
  });

  // 6. Storage took it: now memory.
  applyToMemory(state, stage, work, nextId);
  state.metaPacks.apply(metaPlan);
  state.stale.push(...staleRows);
  for (const source of sources) state.sources.set(sourceKey(source.source, source.group), source);
  return result;
}

/** A family's metadata as the commit leaves it (the stage's where it has it, else memory's). */
function familyRow(state: ShardState, stage: Stage, name: string): FamilyRow | undefined {
  const f = stage.families.get(name);
  if (f?.type !== undefined) return { name, type: f.type, help: f.help, unit: f.unit };
  const m = state.families.get(name);
  // A family stored without series (data from before schema version 3) is dropped with the rewrite.
  return m === undefined ? undefined : { name, type: m.type, help: m.help, unit: m.unit };
}

/** Live series of a staged family after the commit. */
function liveAfter(f: StageFamily): number {
  let n = f.upserts.size;
  const existing = f.existing;
  if (existing !== undefined && !f.retyped) {
    n += existing.size;
    for (const key of f.deletes) if (!f.upserts.has(key)) n--;
    for (const key of f.upserts.keys()) if (existing.slot(key) >= 0 && !f.deletes.has(key)) n--;
  }
  return n;
}

function familyType(stage: Stage, family: FamilyState) {
  return stage.families.get(family.name)?.type ?? family.type;
}

function stageType(stage: Stage, name: string) {
  const type = stage.families.get(name)?.type;
  if (type === undefined) throw new Error(`staged series of family "${name}" has no type`);
  return type;
}

function row(family: string, key: string, group: string, s: StagedSeries, chunk: number): SeriesRow {
  return { family, labels: key, grp: group, value: s.value, updated: s.updated, expires: s.expires, chunk };
}

/** Stale markers owed for deleted series, in packed rows of about a chunk's size. */
function putStale(store: Store, now: number, stale: PackedSeries[]): StaleRow[] {
  const rows: StaleRow[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < stale.length; i++) {
    const s = stale[i];
    if (s === undefined) continue;
    bytes += seriesBytes(s.key, s.value);
    if (bytes >= CHUNK_BYTES || i - start + 1 >= CHUNK_SERIES * 4) {
      rows.push(store.putStale(now, stale.slice(start, i + 1)));
      start = i + 1;
      bytes = 0;
    }
  }
  if (start < stale.length) rows.push(store.putStale(now, stale.slice(start)));
  return rows;
}

/** Applies a committed stage to memory: the same changes storage now holds. */
function applyToMemory(state: ShardState, stage: Stage, work: Map<number, ChunkWork>, nextId: number): void {
  // Deletions first (a retyped family's old series included), then updates, then insertions.
  for (const w of work.values()) for (const d of w.deletes) state.removeSeries(d.family, d.slot);
  for (const f of stage.families.values()) {
    if (f.type === undefined) continue;
    const current = state.families.get(f.name);
    if (f.upserts.size > 0 && (current === undefined || current.type !== f.type)) state.family(f.name, f.type, f.help, f.unit);
    const family = state.families.get(f.name);
    if (family !== undefined) {
      family.help = f.help;
      family.unit = f.unit;
    }
  }
  // Room for each family's new series at once (see FamilyState.reserve).
  const added = new Map<string, number>();
  for (const w of work.values()) {
    for (let n = 0; n < w.inserts.length; n++) {
      const name = (w.inserts[n] as Insert).family;
      added.set(name, (added.get(name) ?? 0) + 1);
    }
  }
  for (const [name, n] of added) state.families.get(name)?.reserve(n);
  const groupOf = (key: string): GroupState => state.group(key);
  for (const w of work.values()) {
    let chunk = w.chunk;
    if (chunk === undefined) chunk = state.newChunk(groupOf(w.group), w.id);
    else if (!state.chunks.has(chunk.id) && (w.inserts.length > 0 || w.updates.length > 0)) {
      // Emptied by this commit's deletions and refilled by its insertions: it stays.
      state.chunks.set(chunk.id, chunk);
      chunk.group.chunks.add(chunk);
    }
    for (const u of w.updates) {
      const before = u.family.value(u.slot);
      u.family.set(u.slot, u.series.value, u.series.updated, u.series.expires);
      if (u.series.expires > 0) state.expiry.push(u.series.expires, u.family, u.family.key(u.slot));
      const delta = seriesBytes(u.family.key(u.slot), u.series.value) - seriesBytes(u.family.key(u.slot), before);
      chunk.bytes += delta;
      state.bytes += heapDelta(before, u.series.value);
      if (!w.rewrite) {
        if ((u.family.flags(u.slot) & OVERLAY) === 0) chunk.overlays++;
        u.family.setFlags(u.slot, u.family.flags(u.slot) | OVERLAY);
      }
    }
    for (let n = 0; n < w.inserts.length; n++) {
      const i = w.inserts[n] as Insert;
      const family = state.families.get(i.family);
      if (family === undefined) throw new Error(`committed series of family "${i.family}" has no family in memory`);
      state.addSeries(family, i.key, i.value, i.updated, i.expires, chunk, w.rewrite ? IN_ROW : OVERLAY);
    }
    if (w.rewrite) {
      for (const [family, slots] of chunk.members) for (const slot of slots) family.setFlags(slot, IN_ROW);
      chunk.overlays = 0;
      chunk.stored = true;
    }
    if (chunk.count === 0) state.dropChunk(chunk);
  }
  if (nextId > state.nextChunk) state.nextChunk = nextId;
  for (const [key, g] of stage.groups) {
    const group = groupOf(key);
    const expiresBefore = groupExpiry(group) || Infinity;
    if (g.pushTime !== undefined) group.pushTime = g.pushTime;
    if (g.failureTime !== undefined) group.failureTime = g.failureTime;
    if (g.ttlMs !== undefined) group.ttlMs = g.ttlMs;
    if ((groupExpiry(group) || Infinity) < expiresBefore) state.renderEpoch++;
  }
  // Each group's open chunk: the newest with room.
  for (const w of work.values()) {
    const chunk = state.chunks.get(w.id);
    if (chunk === undefined) continue;
    const group = chunk.group;
    const open = group.open;
    if (chunk.count < CHUNK_SERIES && chunk.bytes < CHUNK_BYTES && (open === null || chunk.id >= open.id)) group.open = chunk;
    else if (open === chunk && (chunk.count >= CHUNK_SERIES || chunk.bytes >= CHUNK_BYTES)) group.open = null;
  }
}

function heapDelta(before: SeriesValue, after: SeriesValue): number {
  const size = (v: SeriesValue) => (typeof v === "number" ? 0 : 64 + v.length * 8);
  return size(after) - size(before);
}
