/**
 * The type registry Durable Object: the one place that knows each family's type across all shards,
 * so a push that disagrees with another shard's data is still rejected at push time.
 *
 * Shards consult it only when a family is new to them (rare once warm); it also remembers the most
 * shards ever written to, so reads find every shard after SHARDS is lowered.
 */
import { DurableObject } from "cloudflare:workers";
import { GatewayError } from "./errors";
import type { MetricType } from "./model";

/** A family a shard is about to create, and the type it will have. */
export interface TypeClaim {
  name: string;
  type: MetricType;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS family_types (name TEXT NOT NULL PRIMARY KEY, type TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS registry_state (key TEXT NOT NULL PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;`;

export class TypeRegistry extends DurableObject<Env> {
  readonly #types = new Map<string, MetricType>();
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
      if (this.#types.get(name) === type) continue;
      this.#types.set(name, type);
      sql.exec("INSERT OR REPLACE INTO family_types (name, type) VALUES (?, ?)", name, type);
    }
  }

  /** Forgets families deleted everywhere (by name, or all with `"__all"`). */
  release(name: string): void {
    const sql = this.ctx.storage.sql;
    if (name === "__all") {
      this.#types.clear();
      sql.exec("DELETE FROM family_types");
      return;
    }
    this.#types.delete(name);
    sql.exec("DELETE FROM family_types WHERE name = ?", name);
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
