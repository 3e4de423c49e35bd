/**
 * Names packed many to a row: which row ("pack") each name's record lives in, so that a write
 * touching N records rewrites the packs they are in, not N rows (families' metadata in a shard,
 * families' types and label names in the registry). A plan is computed first and applied only
 * after the rows are written.
 */

/** At most this many records per pack. */
export const PACK_RECORDS = 500;

/** What a write does to the packs: each touched pack with its members afterwards (empty: delete the row). */
export interface PackPlan {
  touched: Map<number, string[]>;
  /** New placements (names that were in no pack). */
  placed: [name: string, pack: number][];
  /** Names that leave their pack. */
  removed: string[];
  nextId: number;
  open: number | null;
}

export class Packs {
  readonly #packOf = new Map<string, number>();
  readonly #members = new Map<number, Set<string>>();
  #open: number | null = null;
  #next = 1;

  /** Records a pack as stored (on start). */
  load(id: number, names: readonly string[]): void {
    let members = this.#members.get(id);
    if (members === undefined) this.#members.set(id, (members = new Set()));
    for (const name of names) {
      this.#packOf.set(name, id);
      members.add(name);
    }
    if (id >= this.#next) this.#next = id + 1;
    if (members.size < PACK_RECORDS && (this.#open === null || id > this.#open)) this.#open = id;
  }

  packOf(name: string): number | undefined {
    return this.#packOf.get(name);
  }

  /** Plans a write: records `changed` (new ones placed in the open pack, then new packs) and `removed`. */
  plan(changed: Iterable<string>, removed: Iterable<string>): PackPlan {
    const touched = new Map<number, Set<string>>();
    const members = (id: number) => {
      let set = touched.get(id);
      if (set === undefined) touched.set(id, (set = new Set(this.#members.get(id) ?? [])));
      return set;
    };
    const gone: string[] = [];
    for (const name of removed) {
      const id = this.#packOf.get(name);
      if (id === undefined) continue;
      members(id).delete(name);
      gone.push(name);
    }
    const placed: [string, number][] = [];
    let open = this.#open;
    let next = this.#next;
    for (const name of changed) {
      const id = this.#packOf.get(name);
      if (id !== undefined && !gone.includes(name)) {
        members(id);
        continue;
      }
      if (open === null || members(open).size >= PACK_RECORDS) open = next++;
      members(open).add(name);
      placed.push([name, open]);
    }
    const out = new Map<number, string[]>();
    for (const [id, set] of touched) out.set(id, [...set]);
    return { touched: out, placed, removed: gone, nextId: next, open };
  }

  /** Applies a plan once its rows are written. */
  apply(plan: PackPlan): void {
    for (const name of plan.removed) {
      const id = this.#packOf.get(name);
      if (id !== undefined) this.#members.get(id)?.delete(name);
      this.#packOf.delete(name);
    }
    for (const [name, id] of plan.placed) {
      this.#packOf.set(name, id);
      let members = this.#members.get(id);
      if (members === undefined) this.#members.set(id, (members = new Set()));
      members.add(name);
    }
    for (const [id, names] of plan.touched) if (names.length === 0) this.#members.delete(id);
    this.#next = plan.nextId;
    this.#open = plan.open !== null && (this.#members.get(plan.open)?.size ?? 0) < PACK_RECORDS ? plan.open : null;
  }
}
