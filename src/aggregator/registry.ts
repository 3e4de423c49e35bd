/**
 * The registry Durable Object: the one place that knows what holds across all shards. Shards ask it
 * (one call per batch, only for what is new to them) before they take a write:
 *
 * - a family's type, so a push that disagrees with another shard's data is rejected at push time;
 * - the names a family writes in every format and escaping (src/aggregator/occupancy.ts), so no two
 *   families, and no two label names of one family, can ever come out as the same name;
 * - a directory of every family's series (src/aggregator/directory.ts), so that a series belongs to
 *   exactly one group and a family's series count is exact whatever SHARDS is.
 *
 * Types and label names are stored; the directory is not: it is rebuilt per family from the shards
 * the first time it is needed after the registry starts, and re-checked against them before it is
 * used to reject anything. It also remembers the most shards ever written to.
 */
import { DurableObject } from "cloudflare:workers";
import { GatewayError } from "../common/errors";
import type { MetricType } from "../common/model";
import { Directory } from "./directory";
import { shardStub } from "./objects";
import { LabelNames, labelReservedProblem, Occupancy, reservedProblem } from "./occupancy";
import { PACK_RECORDS, Packs } from "./packs";
import { groupName } from "./plan";

/** A family a shard is about to write, with what is new to that shard. */
export interface AdmitFamily {
  name: string;
  type: MetricType;
  /** Label names the shard has not seen in this family. */
  labels: string[];
  /** Hashes (see `keyHash`) of series new to the shard (only hashes travel: messages name a series by its index). */
  keys: number[];
  /** New HELP text for the family (the registry tells the other shards). */
  help?: string;
  /** New UNIT for the family. */
  unit?: string;
  /**
   * Set for a group's replacing push: how many of its series of this family the shard already holds
   * for the group (they are not among `keys`). The registry takes the rest of what it knows the group
   * holds of the family (earlier writes of the same batch included) as freed by the push, under
   * MAX_SERIES_PER_FAMILY.
   */
  carried?: number;
}

/** One write of a batch, as the registry sees it. */
export interface AdmitItem {
  /** The grouping key of the write ("" ungrouped). */
  group: string;
  families: AdmitFamily[];
  /** Families this replacing write may change the type of (the shard holds all of them, for this group). */
  retype: string[];
  /** MAX_SERIES_PER_FAMILY as the writing Worker has it (the registry's own var when absent). */
  familyLimit?: number;
}

/**
 * A write's verdict. A rejection that names one of the write's series says which (`series`: its
 * family and index in that family's `keys`) and writes `{series}` in the message where the shard
 * puts the series' name.
 */
export type AdmitVerdict = { ok: true } | { error: { name: string; message: string; reason: string; series?: [family: string, index: number] } };

/** Thrown inside the registry for a rejection that names a series. */
class SeriesRejection extends GatewayError {
  readonly series: [string, number];
  constructor(name: "Conflict", message: string, series: [string, number]) {
    super(name, message);
    this.series = series;
  }
}

/** Per family, what the directory knows: series, and series per group. */
export interface FamilyCount {
  name: string;
  series: number;
  groups: [group: string, series: number][];
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS registry_families (id INTEGER NOT NULL PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registry_state (key TEXT NOT NULL PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;`;

/** A directory is checked against the shards before it rejects a push for cardinality, at most this often. */
const RECOUNT_MS = 30_000;

export class TypeRegistry extends DurableObject<Env> {
  readonly #types = new Map<string, MetricType>();
  readonly #labels = new Map<string, LabelNames>();
  readonly #occupancy = new Occupancy();
  /** Claims seen per name since start, so a release can tell that a claim came in while it asked the shards. */
  readonly #claims = new Map<string, number>();
  readonly #directories = new Map<string, Directory>();
  readonly #building = new Map<string, Promise<void>>();
  readonly #recounted = new Map<string, number>();
  readonly #ownerIds = new Map<string, number>();
  readonly #owners: string[] = [];
  /** Which `registry_families` row each family is in. */
  readonly #packs = new Packs();
  #shards = 1;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(SCHEMA);
    // Families' types and label names, packed many to a row (a write admitting 100 new families
    // writes one row, not 100). Registries from before kept one `family_types` row per family.
    const old = sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'family_types'").toArray().length > 0;
    if (old) {
      const hasLabels = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('family_types')").toArray().some((c) => c.name === "labels");
      const rows = sql.exec<{ name: string; type: string; labels: string }>(`SELECT name, type, ${hasLabels ? "labels" : "'[]' AS labels"} FROM family_types`).toArray();
      for (let i = 0; i < rows.length; i += PACK_RECORDS) {
        const pack = rows.slice(i, i + PACK_RECORDS).map((r) => [r.name, r.type, JSON.parse(r.labels) as string[]]);
        sql.exec("INSERT OR REPLACE INTO registry_families (id, data) VALUES (?, ?)", 1 + i / PACK_RECORDS, JSON.stringify(pack));
      }
      sql.exec("DROP TABLE family_types");
    }
    for (const row of sql.exec<{ id: number; data: string }>("SELECT id, data FROM registry_families")) {
      const pack = JSON.parse(row.data) as [string, MetricType, string[]][];
      this.#packs.load(
        row.id,
        pack.map(([name]) => name),
      );
      for (const [name, type, labels] of pack) {
        this.#types.set(name, type);
        this.#occupancy.take(name, type);
        for (const label of labels) this.#labelsOf(name).add(label);
      }
    }
    const shards = sql.exec<{ value: number }>("SELECT value FROM registry_state WHERE key = 'shards'").toArray()[0];
    this.#shards = shards?.value ?? 1;
  }

  #labelsOf(family: string): LabelNames {
    let labels = this.#labels.get(family);
    if (labels === undefined) {
      labels = new LabelNames();
      this.#labels.set(family, labels);
    }
    return labels;
  }

  #ownerId(group: string): number {
    let id = this.#ownerIds.get(group);
    if (id === undefined) {
      id = this.#owners.length;
      this.#owners.push(group);
      this.#ownerIds.set(group, id);
    }
    return id;
  }

  /** The limit on a family's series across all shards (MAX_SERIES_PER_FAMILY; 0: none). */
  get #familyLimit(): number {
    const n = Math.floor(Number(this.env.MAX_SERIES_PER_FAMILY ?? "10000"));
    return Number.isFinite(n) && n > 0 ? n : Infinity;
  }

  /**
   * Checks the writes of one shard's batch against everything the registry knows and records what
   * each accepted write makes true (its families' types and names, its label names, which shard holds
   * which series for which group). Writes are judged in order, each on its own.
   */
  async admit(shard: number, items: AdmitItem[]): Promise<AdmitVerdict[]> {
    if (shard + 1 > this.#shards) this.shards(shard + 1);
    // First what needs the shards: directories not built since start, entries another group holds
    // (checked with their holders before they reject anything), families over their limit.
    const withKeys = new Set<string>();
    for (const item of items) for (const f of item.families) if (f.keys.length > 0) withKeys.add(f.name);
    await this.#ensureDirectories(withKeys);
    await this.#recheck(shard, items);
    // Another batch's recheck may have dropped a directory to count it again meanwhile: wait for it
    // (what follows runs without a pause, so the directories are there for all of it).
    for (let tries = 0; [...withKeys].some((n) => !this.#directories.has(n)) && tries < 5; tries++) await this.#ensureDirectories(withKeys);

    const verdicts: AdmitVerdict[] = [];
    const meta: [name: string, help: string | undefined, unit: string | undefined][] = [];
    for (const item of items) {
      try {
        this.#admitOne(shard, item);
        verdicts.push({ ok: true });
        for (const f of item.families) if (f.help !== undefined || f.unit !== undefined) meta.push([f.name, f.help, f.unit]);
      } catch (error) {
        const e = error instanceof GatewayError ? error : new GatewayError("Unavailable", String(error));
        const verdict: AdmitVerdict = { error: { name: e.name, message: e.message, reason: reasonOf(e) } };
        if (e instanceof SeriesRejection) verdict.error.series = e.series;
        verdicts.push(verdict);
      }
    }
    // New HELP or UNIT text reaches every other shard, so all show the latest whatever holds what.
    if (meta.length > 0) {
      for (let i = 0; i < this.#shards; i++) {
        if (i !== shard) void shardStub(this.env, i).setMeta(meta).catch((e: unknown) => console.error(`registry: telling shard ${i} of new HELP/UNIT text failed`, e));
      }
    }
    return verdicts;
  }

  #limitOf(item: AdmitItem): number {
    const n = item.familyLimit;
    return n !== undefined && Number.isFinite(n) && n > 0 ? n : this.#familyLimit;
  }

  #admitOne(shard: number, item: AdmitItem): void {
    const owner = this.#ownerId(item.group);
    const retype = new Set(item.retype);
    const undo: (() => void)[] = [];
    const typed: AdmitFamily[] = [];
    const labelled: [string, string][] = [];
    try {
      for (const f of item.families) {
        const known = this.#types.get(f.name);
        if (known !== undefined && known !== f.type && !retype.has(f.name)) {
          throw new GatewayError(
            "TypeConflict",
            `metric "${f.name}": pushed as ${f.type} but stored as ${known}; push it as ${known}, or delete it first (DELETE /metrics/${encodeURIComponent(f.name)})`,
          );
        }
        if (known !== f.type) {
          const reserved = reservedProblem(f.name, f.type);
          if (reserved !== undefined) throw new GatewayError("InvalidName", reserved);
          if (known !== undefined) this.#occupancy.release(f.name, known);
          const clash = this.#occupancy.clash(f.name, f.type);
          if (clash !== undefined) {
            if (known !== undefined) this.#occupancy.take(f.name, known);
            throw new GatewayError(
              "Conflict",
              `metric "${f.name}" (${f.type}) would be written as "${clash.as}", which family "${clash.family}" already writes (its samples, OpenMetrics names or escaped name); rename one of them, or delete "${clash.family}" first`,
            );
          }
          this.#occupancy.take(f.name, f.type);
          this.#types.set(f.name, f.type);
          typed.push(f);
          undo.push(() => {
            this.#occupancy.release(f.name, f.type);
            if (known === undefined) this.#types.delete(f.name);
            else {
              this.#types.set(f.name, known);
              this.#occupancy.take(f.name, known);
            }
          });
        }
        const labels = this.#labelsOf(f.name);
        for (const label of f.labels) {
          if (labels.names.has(label)) continue;
          const reserved = labelReservedProblem(label);
          if (reserved !== undefined) throw new GatewayError("InvalidName", `metric "${f.name}": ${reserved}`);
          const clash = labels.clash(label);
          if (clash !== undefined) {
            throw new GatewayError(
              "Conflict",
              `metric "${f.name}": label "${label}" would be written as "${clash.as}", as its label "${clash.label}" is; two label names that escape alike would make series collide in Prometheus 2.x scrapes; rename the label`,
            );
          }
          labels.add(label);
          labelled.push([f.name, label]);
          undo.push(() => labels.delete(label));
        }
        if (f.keys.length > 0) this.#admitKeys(shard, owner, item.group, f, this.#limitOf(item), undo);
      }
    } catch (error) {
      for (const u of undo.reverse()) u();
      throw error;
    }
    // Accepted: make new types and label names durable, and count the claims.
    for (const f of item.families) this.#claims.set(f.name, (this.#claims.get(f.name) ?? 0) + 1);
    this.#persist(new Set([...typed.map((f) => f.name), ...labelled.map(([family]) => family)]), []);
  }

  #admitKeys(shard: number, owner: number, group: string, f: AdmitFamily, limit: number, undo: (() => void)[]): void {
    const dir = this.#directories.get(f.name);
    if (dir === undefined) throw new GatewayError("Unavailable", `the registry has no directory of "${f.name}" yet; retry`);
    let added = 0;
    let ownedPushed = 0;
    // What each series was before, for the undo: 0 absent, 1 held by this shard, 2 by others only.
    const before = new Uint8Array(f.keys.length);
    const mine = 1 << shard;
    for (let i = 0; i < f.keys.length; i++) {
      const hash = f.keys[i] ?? 0;
      const current = dir.owner(hash);
      if (current >= 0) before[i] = (dir.holders(hash) & mine) !== 0 ? 1 : 2;
      if (current === owner) ownedPushed++;
      if (current >= 0 && current !== owner) {
        throw new SeriesRejection(
          "Conflict",
          `series {series} is held by ${groupName(this.#owners[current] ?? "")}; ${groupName(group)} cannot write it: a series belongs to one group (delete it there first)`,
          [f.name, i],
        );
      }
      if (current < 0) added++;
    }
    // A group's replacing push counts as what the family holds once it is applied: the group's other
    // series of it go (only counted when the limit is at stake).
    let freed = 0;
    if (dir.size + added > limit && f.carried !== undefined) {
      freed = Math.max(0, (dir.countByOwner().get(owner) ?? 0) - f.carried - ownedPushed);
    }
    if (dir.size + added - freed > limit) {
      throw new GatewayError(
        "LimitExceeded",
        `metric "${f.name}" holds ${dir.size} series across all shards; this push would add ${added} more${freed > 0 ? ` and remove ${freed}` : ""}, over the limit of ${limit} (MAX_SERIES_PER_FAMILY). Existing series can still be written; look for a label with unbounded values (a user id, a URL) and drop it, or raise the limit`,
      );
    }
    dir.reserve(added);
    for (let k = 0; k < f.keys.length; k++) dir.add(f.keys[k] ?? 0, shard, owner);
    undo.push(() => {
      f.keys.forEach((hash, i) => {
        if (before[i] === 0) dir.delete(hash);
        else if (before[i] === 2) dir.release(hash, shard);
      });
    });
  }

  /**
   * Before a directory rejects anything it is checked against the shards: an entry another group
   * holds may be stale (a shard's release got lost), and a family over its limit is counted again.
   */
  async #recheck(shard: number, items: AdmitItem[]): Promise<void> {
    for (const item of items) {
      const limit = this.#limitOf(item);
      // A replacing push may change a family's type only if no other shard holds the family.
      const retype: string[] = [];
      for (const name of item.retype) if (!(await this.heldElsewhere(name, shard))) retype.push(name);
      item.retype = retype;
      const owner = this.#ownerId(item.group);
      for (const f of item.families) {
        const dir = this.#directories.get(f.name);
        if (dir === undefined || f.keys.length === 0) continue;
        const contested = f.keys.filter((h) => {
          const o = dir.owner(h);
          return o >= 0 && o !== owner;
        });
        if (contested.length > 0) {
          const held = await this.#holders(f.name, contested);
          contested.forEach((hash, i) => {
            if (held[i] === undefined) dir.delete(hash);
          });
        }
        const fresh = f.keys.filter((h) => dir.owner(h) < 0).length;
        const last = this.#recounted.get(f.name) ?? 0;
        if (dir.size + fresh > limit && Date.now() - last > RECOUNT_MS) {
          this.#recounted.set(f.name, Date.now());
          this.#directories.delete(f.name);
          await this.#ensureDirectories([f.name]);
        }
      }
    }
  }

  /** Which group holds each hash on any shard (undefined: none). */
  async #holders(name: string, hashes: number[]): Promise<(string | undefined)[]> {
    const answers = await Promise.all(Array.from({ length: this.#shards }, (_, i) => shardStub(this.env, i).lookup(name, hashes)));
    return hashes.map((_, j) => {
      for (const a of answers) {
        const g = a[j];
        if (g !== null && g !== undefined) return g;
      }
      return undefined;
    });
  }

  /** Families' directories, built from every shard (one call each) for those the registry has none of. */
  async #ensureDirectories(names: Iterable<string>): Promise<void> {
    const missing = [...new Set(names)].filter((n) => !this.#directories.has(n) && !this.#building.has(n));
    if (missing.length > 0) {
      const build = (async () => {
        const parts = await Promise.all(Array.from({ length: this.#shards }, (_, i) => shardStub(this.env, i).directory(missing)));
        missing.forEach((name, n) => {
          let total = 0;
          for (const part of parts) for (const { hashes } of part[n] ?? []) total += hashes.length;
          const dir = new Directory(total);
          parts.forEach((part, shard) => {
            for (const { group, hashes } of part[n] ?? []) {
              const owner = this.#ownerId(group);
              for (const hash of hashes) dir.add(hash, shard, owner);
            }
          });
          this.#directories.set(name, dir);
        });
      })();
      const settled = build.finally(() => {
        for (const name of missing) if (this.#building.get(name) === settled) this.#building.delete(name);
      });
      for (const name of missing) this.#building.set(name, settled);
    }
    await Promise.all([...new Set(names)].map((n) => this.#building.get(n)));
  }

  /** A shard no longer holds these series (deleted, expired, replaced). */
  release(shard: number, released: [family: string, hashes: number[]][]): void {
    for (const [name, hashes] of released) {
      const dir = this.#directories.get(name);
      if (dir === undefined) continue;
      for (const hash of hashes) dir.release(hash, shard);
    }
  }

  /**
   * Checks families with the shards: forgets those that no shard holds any more (after deletes,
   * expiry or replacing pushes emptied them), so they may come back with another type, and takes
   * back the type of one every shard holds with another type than registered (a type change
   * admitted for a write that was then not applied). A name claimed again meanwhile is left alone.
   */
  async releaseUnused(names: string[]): Promise<string[]> {
    const candidates = names.filter((name) => this.#types.has(name));
    if (candidates.length === 0) return [];
    const claimsBefore = candidates.map((name) => this.#claims.get(name) ?? 0);
    // Each shard says with which type it holds each family (null: it holds none).
    const held = await Promise.all(Array.from({ length: this.#shards }, (_, i) => shardStub(this.env, i).typesOf(candidates)));
    const released: string[] = [];
    const retyped: string[] = [];
    candidates.forEach((name, n) => {
      if ((this.#claims.get(name) ?? 0) !== claimsBefore[n]) return;
      const types = new Set(held.map((h) => h[n]).filter((t): t is MetricType => t !== null && t !== undefined));
      const type = this.#types.get(name);
      if (types.size === 1) {
        // Held, with one type: the registry agrees with the shards (a type change admitted for a
        // write that was then not applied is taken back here).
        const [held1] = types;
        if (held1 !== undefined && held1 !== type) {
          if (type !== undefined) this.#occupancy.release(name, type);
          this.#occupancy.take(name, held1);
          this.#types.set(name, held1);
          retyped.push(name);
        }
        return;
      }
      if (types.size > 0) return;
      if (type !== undefined) this.#occupancy.release(name, type);
      this.#types.delete(name);
      this.#labels.delete(name);
      this.#directories.delete(name);
      released.push(name);
    });
    this.#persist(retyped, released);
    return released;
  }

  /** Writes the packed rows of families whose type or label names changed, or that were forgotten. */
  #persist(changed: Iterable<string>, removed: Iterable<string>): void {
    const plan = this.#packs.plan(changed, removed);
    const sql = this.ctx.storage.sql;
    for (const [id, names] of plan.touched) {
      if (names.length === 0) sql.exec("DELETE FROM registry_families WHERE id = ?", id);
      else {
        const data = names.flatMap((name) => {
          const type = this.#types.get(name);
          return type === undefined ? [] : [[name, type, [...this.#labelsOf(name).names]]];
        });
        sql.exec("INSERT OR REPLACE INTO registry_families (id, data) VALUES (?, ?)", id, JSON.stringify(data));
      }
    }
    this.#packs.apply(plan);
  }


  /** Whether any shard other than `except` holds the family (a replacing push may retype only then). */
  async heldElsewhere(name: string, except: number): Promise<boolean> {
    for (let i = 0; i < this.#shards; i++) {
      if (i === except) continue;
      if ((await shardStub(this.env, i).holding([name]))[0] === true) return true;
    }
    return false;
  }

  /** Notes that `shards` shards are in use and answers the most ever used (reads must cover all of them). */
  shards(shards: number): number {
    if (shards > this.#shards) {
      this.#shards = shards;
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO registry_state (key, value) VALUES ('shards', ?)", shards);
    }
    return this.#shards;
  }

  /** Every family's exact series count across shards, and per group (for the status views). */
  async counts(): Promise<FamilyCount[]> {
    const names = [...this.#types.keys()].sort();
    await this.#ensureDirectories(names);
    return names.map((name) => {
      const dir = this.#directories.get(name);
      const groups: [string, number][] = [];
      for (const [owner, n] of dir?.countByOwner() ?? []) groups.push([this.#owners[owner] ?? "", n]);
      return { name, series: dir?.size ?? 0, groups };
    });
  }
}

/** The reason a rejection is counted under (`metrics_gateway_pushes_rejected_total{reason}`). */
function reasonOf(error: GatewayError): string {
  if (error.name === "LimitExceeded" && error.message.includes("MAX_SERIES_PER_FAMILY")) return "family_cardinality";
  return error.name;
}
