/**
 * The aggregator's SQLite schema and statements. A group's series are stored packed, many per row
 * (`chunks`), with single series that changed since in rows of their own (`series`): rows written
 * grow with what changed, not with the size of a push. See `docs/storage.md` for every table.
 */
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";
import { decodePacked, encodePacked, type PackedSeries } from "./codec";
import { PACK_RECORDS } from "./packs";

/** Bumped with every schema change; the constructor brings older databases forward. */
export const SCHEMA_VERSION = 3;

export const MIGRATIONS: readonly string[] = [
  // 0 -> 1: the initial schema.
  `CREATE TABLE families (
     name TEXT NOT NULL PRIMARY KEY,
     type TEXT NOT NULL,
     help TEXT NOT NULL,
     unit TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE series (
     family  TEXT NOT NULL,
     labels  TEXT NOT NULL,
     value   REAL,
     packed  BLOB,
     updated INTEGER NOT NULL,
     PRIMARY KEY (family, labels)
   ) WITHOUT ROWID;
   CREATE TABLE tombstones (
     family  TEXT NOT NULL,
     labels  TEXT NOT NULL,
     type    TEXT NOT NULL,
     value   REAL,
     packed  BLOB,
     deleted INTEGER NOT NULL,
     PRIMARY KEY (family, labels)
   ) WITHOUT ROWID;`,
  // 1 -> 2: Pushgateway grouping keys: the group that last wrote each series, and per-group push times.
  `ALTER TABLE series ADD COLUMN grp TEXT NOT NULL DEFAULT '';
   CREATE TABLE groups (
     key          TEXT NOT NULL PRIMARY KEY,
     push_time    REAL NOT NULL,
     failure_time REAL NOT NULL
   ) WITHOUT ROWID;`,
  // 2 -> 3: packed chunks (many series per row), per-series expiry, group TTLs, stale markers in
  // packed rows, families' metadata packed, cumulative sources' last values. The old tombstones
  // move into `stale` and the old families rows into `family_meta` (in code).
  `CREATE TABLE chunks (
     id   INTEGER NOT NULL PRIMARY KEY,
     grp  TEXT NOT NULL,
     data BLOB NOT NULL
   );
   ALTER TABLE series ADD COLUMN chunk INTEGER;
   ALTER TABLE series ADD COLUMN expires REAL NOT NULL DEFAULT 0;
   ALTER TABLE groups ADD COLUMN ttl_ms REAL NOT NULL DEFAULT 0;
   CREATE TABLE stale (
     id      INTEGER NOT NULL PRIMARY KEY,
     deleted INTEGER NOT NULL,
     count   INTEGER NOT NULL,
     data    BLOB NOT NULL
   );
   CREATE TABLE family_meta (
     id   INTEGER NOT NULL PRIMARY KEY,
     data TEXT NOT NULL
   );
   CREATE TABLE sources (
     source  TEXT NOT NULL,
     grp     TEXT NOT NULL,
     part    INTEGER NOT NULL,
     updated REAL NOT NULL,
     data    BLOB NOT NULL,
     PRIMARY KEY (source, grp, part)
   ) WITHOUT ROWID;`,
];

/** A family's metadata (packed in `family_meta` rows; one `families` row each before schema version 3). */
export interface FamilyRow {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
}

/** A `series` row: one series stored on its own (see docs/storage.md: overlay rows). */
export interface SeriesRow {
  family: string;
  labels: string;
  grp: string;
  value: SeriesValue;
  updated: number;
  expires: number;
  /** The chunk the series belongs to; null for rows written before schema version 3. */
  chunk: number | null;
}

/** A `groups` row: a Pushgateway grouping key, its last push times (ms, 0 for never) and its TTL. */
export interface GroupRow {
  key: string;
  push_time: number;
  failure_time: number;
  ttl_ms: number;
}

/** A `stale` row's bookkeeping: series deleted at `deleted` (ms), owed a stale marker by the export. */
export interface StaleRow {
  id: number;
  deleted: number;
  count: number;
}

/** Named statements over a Durable Object's SQL storage; every call joins the object's implicit transaction. */
export class Store {
  readonly #sql: SqlStorage;
  /** Rows written since the object started (Cloudflare bills Durable Objects by rows written). */
  rowsWritten = 0;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    this.#migrate();
  }

  #exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> {
    const cursor = this.#sql.exec<T>(query, ...bindings);
    this.rowsWritten += cursor.rowsWritten;
    return cursor;
  }

  /**
   * Brings the schema up to {@link SCHEMA_VERSION}. Durable Objects refuse `PRAGMA user_version`
   * (SQLITE_AUTH), so the version is kept in the `state` table under `schema_version`.
   */
  #migrate(): void {
    this.#sql.exec("CREATE TABLE IF NOT EXISTS state (key TEXT NOT NULL PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID");
    for (let v = this.schemaVersion(); v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v];
      if (step === undefined) throw new Error(`no migration from schema version ${v}`);
      this.#sql.exec(step);
      if (v === 2) {
        this.#moveTombstones();
        this.#moveFamilies();
      }
      this.setState("schema_version", v + 1);
    }
  }

  /** Version 3 keeps stale markers packed: the old one-row-per-series tombstones become one `stale` row. */
  #moveTombstones(): void {
    const rows = this.#sql
      .exec<{ family: string; labels: string; type: string; value: number | null; packed: ArrayBuffer | null; deleted: number }>(
        "SELECT family, labels, type, value, packed, deleted FROM tombstones",
      )
      .toArray();
    if (rows.length > 0) {
      const series: PackedSeries[] = rows.map((r) => ({
        family: r.family,
        type: r.type as MetricType,
        key: r.labels,
        value: r.packed !== null ? new Float64Array(r.packed.slice(0)) : (r.value ?? NaN),
        updated: r.deleted,
        expires: 0,
      }));
      this.putStale(Math.max(...rows.map((r) => r.deleted)), series);
    }
    this.#sql.exec("DROP TABLE tombstones");
  }

  /** Version 3 keeps families' metadata packed: the `families` rows become `family_meta` rows. */
  #moveFamilies(): void {
    const rows = this.#sql.exec<{ name: string; type: string; help: string; unit: string }>("SELECT name, type, help, unit FROM families").toArray() as FamilyRow[];
    for (let i = 0; i < rows.length; i += PACK_RECORDS) this.putFamilyMeta(1 + i / PACK_RECORDS, rows.slice(i, i + PACK_RECORDS));
    this.#sql.exec("DROP TABLE families");
  }

  /** The schema version the database is at (0 for a new database). */
  schemaVersion(): number {
    return this.getState("schema_version") ?? 0;
  }

  /** Every family's metadata, by the `family_meta` row (pack) it is in. */
  familyMeta(): { id: number; families: FamilyRow[] }[] {
    return this.#sql
      .exec<{ id: number; data: string }>("SELECT id, data FROM family_meta")
      .toArray()
      .map((r) => ({ id: r.id, families: (JSON.parse(r.data) as [string, MetricType, string, string][]).map(([name, type, help, unit]) => ({ name, type, help, unit })) }));
  }

  putFamilyMeta(id: number, families: readonly FamilyRow[]): void {
    this.#exec("INSERT OR REPLACE INTO family_meta (id, data) VALUES (?, ?)", id, JSON.stringify(families.map((f) => [f.name, f.type, f.help, f.unit])));
  }

  deleteFamilyMeta(id: number): void {
    this.#exec("DELETE FROM family_meta WHERE id = ?", id);
  }

  /** Every chunk row: id, group, and its series decoded. */
  *chunks(): IterableIterator<{ id: number; grp: string; series: PackedSeries[] }> {
    for (const row of this.#sql.exec<{ id: number; grp: string; data: ArrayBuffer }>("SELECT id, grp, data FROM chunks")) {
      yield { id: row.id, grp: row.grp, series: decodePacked(row.data) };
    }
  }

  putChunk(id: number, grp: string, series: readonly PackedSeries[]): void {
    this.#exec("INSERT OR REPLACE INTO chunks (id, grp, data) VALUES (?, ?, ?)", id, grp, encodePacked(series));
  }

  deleteChunk(id: number): void {
    this.#exec("DELETE FROM chunks WHERE id = ?", id);
  }

  /** Every series row (stored on its own). */
  *series(): IterableIterator<SeriesRow> {
    const rows = this.#sql.exec<{ family: string; labels: string; grp: string; value: number | null; packed: ArrayBuffer | null; updated: number; expires: number; chunk: number | null }>(
      "SELECT family, labels, grp, value, packed, updated, expires, chunk FROM series",
    );
    for (const r of rows) {
      yield {
        family: r.family,
        labels: r.labels,
        grp: r.grp,
        value: r.packed !== null ? new Float64Array(r.packed.slice(0)) : (r.value ?? NaN),
        updated: r.updated,
        expires: r.expires,
        chunk: r.chunk,
      };
    }
  }

  /**
   * Upserts series rows with few statements: the rows go as one JSON array parameter per ~512 KB,
   * read back with `json_each` (Durable Objects allow at most 100 bound parameters per statement).
   * Numbers are written as JSON5, which SQLite reads, so +Inf and -Inf survive; NaN is NULL (SQLite
   * has no NaN); histograms and summaries go as hex, turned back into BLOBs by `unhex`.
   */
  putSeries(rows: readonly SeriesRow[]): void {
    let json = "";
    for (const r of rows) {
      const v = r.value;
      const value = typeof v === "number" ? `${json5Number(v)},null` : `null,"${hex(v)}"`;
      const row = `[${JSON.stringify(r.family)},${JSON.stringify(r.labels)},${JSON.stringify(r.grp)},${value},${r.updated},${json5Number(r.expires)},${r.chunk ?? "null"}]`;
      json += json === "" ? row : `,${row}`;
      if (json.length > 512 * 1024) {
        this.#exec(UPSERT_JSON, `[${json}]`);
        json = "";
      }
    }
    if (json !== "") this.#exec(UPSERT_JSON, `[${json}]`);
  }

  deleteSeries(family: string, keys: readonly string[]): void {
    for (let start = 0; start < keys.length; start += 90) {
      const chunk = keys.slice(start, start + 90);
      this.#exec(`DELETE FROM series WHERE family = ? AND labels IN (${chunk.map(() => "?").join(",")})`, family, ...chunk);
    }
  }

  /** Removes every series, chunk, family, group and source (the stale markers stay owed). */
  deleteAll(): void {
    this.#exec("DELETE FROM series");
    this.#exec("DELETE FROM chunks");
    this.#exec("DELETE FROM family_meta");
    this.#exec("DELETE FROM groups");
    this.#exec("DELETE FROM sources");
  }

  /** Records deleted series (with their last values, so a histogram's markers can be named). */
  putStale(deleted: number, series: readonly PackedSeries[]): StaleRow {
    const row = this.#exec<{ id: number }>("INSERT INTO stale (deleted, count, data) VALUES (?, ?, ?) RETURNING id", deleted, series.length, encodePacked(series)).one();
    return { id: row.id, deleted, count: series.length };
  }

  staleRows(): StaleRow[] {
    return this.#sql.exec<{ id: number; deleted: number; count: number }>("SELECT id, deleted, count FROM stale ORDER BY id").toArray();
  }

  staleSeries(id: number): PackedSeries[] {
    const row = this.#sql.exec<{ data: ArrayBuffer }>("SELECT data FROM stale WHERE id = ?", id).toArray()[0];
    return row === undefined ? [] : decodePacked(row.data);
  }

  /** Removes the stale rows an export delivered: those with ids up to and including `upTo`. */
  deleteStaleUpTo(upTo: number): void {
    this.#exec("DELETE FROM stale WHERE id <= ?", upTo);
  }

  groups(): GroupRow[] {
    return this.#sql.exec<Record<keyof GroupRow, SqlStorageValue>>("SELECT key, push_time, failure_time, ttl_ms FROM groups").toArray() as unknown as GroupRow[];
  }

  putGroup(row: GroupRow): void {
    this.#exec("INSERT OR REPLACE INTO groups (key, push_time, failure_time, ttl_ms) VALUES (?, ?, ?, ?)", row.key, row.push_time, row.failure_time, row.ttl_ms);
  }

  deleteGroup(key: string): void {
    this.#exec("DELETE FROM groups WHERE key = ?", key);
  }

  /** Every source's packed last values: `[source, group, part, updated, series]`. */
  *sources(): IterableIterator<{ source: string; grp: string; part: number; updated: number; series: PackedSeries[] }> {
    for (const row of this.#sql.exec<{ source: string; grp: string; part: number; updated: number; data: ArrayBuffer }>("SELECT source, grp, part, updated, data FROM sources")) {
      yield { source: row.source, grp: row.grp, part: row.part, updated: row.updated, series: decodePacked(row.data) };
    }
  }

  putSource(source: string, grp: string, part: number, updated: number, series: readonly PackedSeries[]): void {
    this.#exec("INSERT OR REPLACE INTO sources (source, grp, part, updated, data) VALUES (?, ?, ?, ?, ?)", source, grp, part, updated, encodePacked(series));
  }

  /** Removes a source's parts from `fromPart` on (all of them with 0). */
  deleteSource(source: string, grp: string, fromPart = 0): void {
    this.#exec("DELETE FROM sources WHERE source = ? AND grp = ? AND part >= ?", source, grp, fromPart);
  }

  getState(key: string): number | undefined {
    const row = this.#sql.exec<{ value: number }>("SELECT value FROM state WHERE key = ?", key).toArray()[0];
    return row?.value;
  }

  setState(key: string, value: number): void {
    this.#exec("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", key, value);
  }
}

const UPSERT_JSON = `INSERT INTO series (family, labels, grp, value, packed, updated, expires, chunk)
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, unhex(value ->> 4), value ->> 5, value ->> 6, value ->> 7 FROM json_each(?1) WHERE true
  ON CONFLICT (family, labels) DO UPDATE SET grp = excluded.grp, value = excluded.value, packed = excluded.packed,
    updated = excluded.updated, expires = excluded.expires, chunk = excluded.chunk`;

/** A number as JSON5 (which SQLite's JSON functions read): infinities by name, NaN as null (stored as NULL). */
function json5Number(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return "null";
  return v > 0 ? "Infinity" : "-Infinity";
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(v: Float64Array): string {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let out = "";
  for (const b of bytes) out += HEX[b] ?? "00";
  return out;
}
