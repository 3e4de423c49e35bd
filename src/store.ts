/**
 * The aggregator's SQLite schema and statements: one row per family, one row per series.
 * See `docs/storage.md` for the tables and the migration history.
 */
import type { SeriesValue } from "./exposition/format";
import type { MetricType } from "./model";

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

  putSeries(family: string, labels: string, group: string, value: SeriesValue, updated: number): void {
    this.putSeriesMany(family, group, [labels], [value], updated);
  }

  /**
   * Upserts many series of one family, several rows per statement: Durable Objects allow at most
   * 100 bound parameters, so rows go in chunks of {@link ROWS_PER_UPSERT} (6 parameters each).
   */
  putSeriesMany(family: string, group: string, keys: readonly string[], values: readonly SeriesValue[], updated: number): void {
    for (let start = 0; start < keys.length; start += ROWS_PER_UPSERT) {
      const end = Math.min(keys.length, start + ROWS_PER_UPSERT);
      const params: (string | number | ArrayBuffer | null)[] = [];
      for (let i = start; i < end; i++) {
        const value = values[i] ?? NaN;
        const scalar = typeof value === "number";
        params.push(family, keys[i] ?? "", group, scalar ? (Number.isNaN(value) ? null : value) : null, scalar ? null : bytesOf(value), updated);
      }
      this.#sql.exec(upsertStatement(end - start), ...params);
    }
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

  deleteSeries(family: string, labels: string): void {
    this.#sql.exec("DELETE FROM series WHERE family = ? AND labels = ?", family, labels);
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

/** Rows per multi-row upsert: 16 x 6 = 96 bound parameters, under the limit of 100. */
const ROWS_PER_UPSERT = 16;
const upserts = new Map<number, string>();

function upsertStatement(rows: number): string {
  let sql = upserts.get(rows);
  if (sql === undefined) {
    sql = `INSERT INTO series (family, labels, grp, value, packed, updated) VALUES ${Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?)").join(", ")} ON CONFLICT (family, labels) DO UPDATE SET grp = excluded.grp, value = excluded.value, packed = excluded.packed, updated = excluded.updated`;
    upserts.set(rows, sql);
  }
  return sql;
}

/** A stored series value from its row (series or tombstone). */
export function valueOf(row: Pick<SeriesRow, "value" | "packed">): SeriesValue {
  if (row.packed !== null) return new Float64Array(row.packed.slice(0));
  return row.value ?? NaN;
}

function bytesOf(v: Float64Array): ArrayBuffer {
  return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer;
}
