/**
 * The aggregator's SQLite schema and statements: one row per family, one row per series.
 * See `docs/storage.md` for the tables and the migration history.
 */
import type { SeriesValue } from "../wire/exposition/format";
import type { MetricType } from "../common/model";

/** Bumped with every schema change; `migrate` brings older databases forward. */
export const SCHEMA_VERSION = 2;

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
];

/** A `families` row. */
export interface FamilyRow {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
}

/** A `series` row: `value` holds counters, gauges and untyped (NULL is NaN: SQLite has no NaN); `packed` the rest. */
export interface SeriesRow {
  family: string;
  labels: string;
  /** The grouping key of the group that last wrote the series; "" for ungrouped writes. */
  grp: string;
  value: number | null;
  packed: ArrayBuffer | null;
  updated: number;
}

/** A `groups` row: a Pushgateway grouping key and its last push times (ms, 0 for never). */
export interface GroupRow {
  key: string;
  push_time: number;
  failure_time: number;
}

/** A `tombstones` row: a series deleted since the last successful export, owed a stale marker. */
export interface TombstoneRow {
  family: string;
  labels: string;
  type: MetricType;
  value: number | null;
  packed: ArrayBuffer | null;
  deleted: number;
}

/** Named statements over a Durable Object's SQL storage. All calls are synchronous and join the object's implicit transaction. */
export class Store {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    this.#migrate();
  }

  /**
   * Brings the schema up to {@link SCHEMA_VERSION}. Durable Objects refuse `PRAGMA user_version`
   * (SQLITE_AUTH), so the version is kept the same way in the `state` table under `schema_version`.
   */
  #migrate(): void {
    this.#sql.exec("CREATE TABLE IF NOT EXISTS state (key TEXT NOT NULL PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID");
    for (let v = this.schemaVersion(); v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v];
      if (step === undefined) throw new Error(`no migration from schema version ${v}`);
      this.#sql.exec(step);
      this.setState("schema_version", v + 1);
    }
  }

  /** The schema version the database is at (0 for a new database). */
  schemaVersion(): number {
    return this.getState("schema_version") ?? 0;
  }

  families(): FamilyRow[] {
    return this.#sql.exec<Record<keyof FamilyRow, string>>("SELECT name, type, help, unit FROM families").toArray() as FamilyRow[];
  }

  /** Every series, in primary key order. */
  series(): Iterable<SeriesRow> {
    return this.#sql.exec<Record<keyof SeriesRow, SqlStorageValue>>("SELECT family, labels, grp, value, packed, updated FROM series") as unknown as Iterable<SeriesRow>;
  }

  putFamily(row: FamilyRow): void {
    this.#sql.exec(
      "INSERT INTO families (name, type, help, unit) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET type = excluded.type, help = excluded.help, unit = excluded.unit",
      row.name,
      row.type,
      row.help,
      row.unit,
    );
  }

  /**
   * Upserts many series of one family with few statements: the rows go as one JSON array parameter
   * per ~512 KB, read back with `json_each` (Durable Objects allow at most 100 bound parameters, so
   * row-by-row parameters would need a statement per 16 rows). Numbers are written as JSON5, which
   * SQLite reads, so +Inf and -Inf survive; NaN is NULL as everywhere; histograms and summaries go
   * as hex, turned back into BLOBs by `unhex`.
   */
  putSeriesMany(family: string, group: string, keys: readonly string[], values: readonly SeriesValue[], updated: number): void {
    let json = "";
    for (let i = 0; i < keys.length; i++) {
      const value = values[i] ?? NaN;
      const row = typeof value === "number" ? `[${JSON.stringify(keys[i] ?? "")},${json5Number(value)},null]` : `[${JSON.stringify(keys[i] ?? "")},null,"${hex(value)}"]`;
      json += json === "" ? row : `,${row}`;
      if (json.length > 512 * 1024) {
        this.#sql.exec(UPSERT_JSON, family, group, updated, `[${json}]`);
        json = "";
      }
    }
    if (json !== "") this.#sql.exec(UPSERT_JSON, family, group, updated, `[${json}]`);
  }

  deleteSeriesMany(family: string, keys: readonly string[]): void {
    for (let start = 0; start < keys.length; start += 90) {
      const chunk = keys.slice(start, start + 90);
      this.#sql.exec(`DELETE FROM series WHERE family = ? AND labels IN (${chunk.map(() => "?").join(",")})`, family, ...chunk);
    }
  }

  /** Records that a series is gone, so the next export sends its stale marker. */
  putTombstone(family: string, type: MetricType, labels: string, value: SeriesValue, deleted: number): void {
    const scalar = typeof value === "number";
    this.#sql.exec(
      "INSERT OR REPLACE INTO tombstones (family, labels, type, value, packed, deleted) VALUES (?, ?, ?, ?, ?, ?)",
      family,
      labels,
      type,
      scalar ? (Number.isNaN(value) ? null : value) : null,
      scalar ? null : bytesOf(value),
      deleted,
    );
  }

  /** A series that comes back is no longer stale. */
  clearTombstone(family: string, labels: string): void {
    this.#sql.exec("DELETE FROM tombstones WHERE family = ? AND labels = ?", family, labels);
  }

  tombstones(): TombstoneRow[] {
    return this.#sql.exec<Record<keyof TombstoneRow, SqlStorageValue>>("SELECT family, labels, type, value, packed, deleted FROM tombstones").toArray() as unknown as TombstoneRow[];
  }

  /** Removes the tombstones an export delivered: those recorded up to and including `upTo` (ms). */
  clearTombstonesUpTo(upTo: number): void {
    this.#sql.exec("DELETE FROM tombstones WHERE deleted <= ?", upTo);
  }

  getState(key: string): number | undefined {
    const row = this.#sql.exec<{ value: number }>("SELECT value FROM state WHERE key = ?", key).toArray()[0];
    return row?.value;
  }

  setState(key: string, value: number): void {
    this.#sql.exec("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", key, value);
  }

  deleteFamily(name: string): void {
    this.#sql.exec("DELETE FROM series WHERE family = ?", name);
    this.#sql.exec("DELETE FROM families WHERE name = ?", name);
  }

  deleteAll(): void {
    this.#sql.exec("DELETE FROM series");
    this.#sql.exec("DELETE FROM families");
    this.#sql.exec("DELETE FROM groups");
  }

  groups(): GroupRow[] {
    return this.#sql.exec<Record<keyof GroupRow, SqlStorageValue>>("SELECT key, push_time, failure_time FROM groups").toArray() as unknown as GroupRow[];
  }

  putGroup(row: GroupRow): void {
    this.#sql.exec("INSERT OR REPLACE INTO groups (key, push_time, failure_time) VALUES (?, ?, ?)", row.key, row.push_time, row.failure_time);
  }

  deleteGroup(key: string): void {
    this.#sql.exec("DELETE FROM groups WHERE key = ?", key);
  }
}

const UPSERT_JSON = `INSERT INTO series (family, labels, grp, value, packed, updated)
  SELECT ?1, value ->> 0, ?2, value ->> 1, unhex(value ->> 2), ?3 FROM json_each(?4) WHERE true
  ON CONFLICT (family, labels) DO UPDATE SET grp = excluded.grp, value = excluded.value, packed = excluded.packed, updated = excluded.updated`;

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

/** A stored series value from its row (series or tombstone). */
export function valueOf(row: Pick<SeriesRow, "value" | "packed">): SeriesValue {
  if (row.packed !== null) return new Float64Array(row.packed.slice(0));
  return row.value ?? NaN;
}

function bytesOf(v: Float64Array): ArrayBuffer {
  return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer;
}
