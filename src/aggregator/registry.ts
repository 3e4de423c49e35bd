/**
 * The type registry Durable Object: the one place that knows each family's type across all shards,
 * so a push that disagrees with another shard's data is still rejected at push time.
 *
 * Shards consult it only when a family is new to them (rare once warm); it also remembers the most
 * shards ever written to, so reads find every shard after SHARDS is lowered.
 */
import { DurableObject } from "cloudflare:workers";
import { GatewayError } from "../common/errors";
import type { MetricType } from "../common/model";
import { shardStub } from "./objects";

/** A family a shard is about to create, and the type it will have. */
export interface TypeClaim {
  name: string;
  type: MetricType;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS family_types (name TEXT NOT NULL PRIMARY KEY, type TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS registry_state (key TEXT NOT NULL PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;`;

export class TypeRegistry extends DurableObject<Env> {
  readonly #types = new Map<string, MetricType>();
  /** Claims seen per name since start, so a release can tell that a claim came in while it asked the shards. */
  readonly #claims = new Map<string, number>();
  #shards = 1;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(SCHEMA);
    for (const row of sql.exec<{ name: string; type: string }>("SELECT name, type FROM family_types")) this.#types.set(row.name, row.type as MetricType);
    const shards = sql.exec<{ value: number }>("SELECT value FROM registry_state WHERE key = 'shards'").toArray()[0];
    this.#shards = shards?.value ?? 1;
  }

  /**
   * Records the families a shard is creating, or throws TypeConflict naming the first whose type
   * differs from the registered one. `retype` lists families the caller may change the type of
   * (a Pushgateway PUT that replaces all of them); the caller has checked that no other shard holds them.
   */
  claim(claims: TypeClaim[], retype: string[] = []): void {
    const allowed = new Set(retype);
    for (const { name, type } of claims) {
      const known = this.#types.get(name);
      if (known !== undefined && known !== type && !allowed.has(name)) {
        throw new GatewayError(
          "TypeConflict",
          `metric "${name}": pushed as ${type} but stored as ${known}; push it as ${known}, or delete it first (DELETE /metrics/${name})`,
        );
      }
    }
    const sql = this.ctx.storage.sql;
    for (const { name, type } of claims) {
      this.#claims.set(name, (this.#claims.get(name) ?? 0) + 1);
      if (this.#types.get(name) === type) continue;
      this.#types.set(name, type);
      sql.exec("INSERT OR REPLACE INTO family_types (name, type) VALUES (?, ?)", name, type);
    }
  }

  /**
   * Forgets the types of families that no shard holds any more (after a group delete, a labelled
   * delete or a replacing push emptied them), so they may come back with another type. Asks every
   * shard; a name claimed again meanwhile is kept.
   */
  async releaseUnused(names: string[]): Promise<string[]> {
    const candidates = names.filter((name) => this.#types.has(name));
    if (candidates.length === 0) return [];
    const claimsBefore = candidates.map((name) => this.#claims.get(name) ?? 0);
    // One call per shard, whatever the number of names.
    const held = await Promise.all(Array.from({ length: this.#shards }, (_, i) => shardStub(this.env, i).holding(candidates)));
    const released: string[] = [];
    candidates.forEach((name, n) => {
      if (held.some((h) => h[n] === true) || (this.#claims.get(name) ?? 0) !== claimsBefore[n]) return;
      this.#types.delete(name);
      this.ctx.storage.sql.exec("DELETE FROM family_types WHERE name = ?", name);
      released.push(name);
    });
    return released;
  }

  /** Notes that `shards` shards are in use and answers the most ever used (reads must cover all of them). */
  shards(shards: number): number {
    if (shards > this.#shards) {
      this.#shards = shards;
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO registry_state (key, value) VALUES ('shards', ?)", shards);
    }
    return this.#shards;
  }
}
