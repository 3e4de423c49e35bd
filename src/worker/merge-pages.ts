/**
 * Reads every shard a page at a time and merges them into one stream of families in name order,
 * each series once, its shards' parts combined with the aggregation rules. Memory stays bounded
 * whatever is stored: at most two pages per shard (the one being merged and the next, fetched ahead),
 * two more while a family a shard rendered is read again as series, and one run of output series.
 * A scrape passes its render options: a family one shard holds then comes as that shard's text.
 */
import { shardStub } from "../aggregator/objects";
import type { Cursor, Page, PageFamily, PageRequest, Rendered } from "../aggregator/pages";
import { combine, type MergeNotes } from "../aggregator/rules";
import type { MetricType } from "../common/model";
import type { SeriesColumns, SeriesValue } from "../common/model";
import type { RenderOptions } from "../wire/exposition/format";
import { withDeadline } from "./shards";

/** A family's metadata in a merged read. */
export interface FamilyMeta {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
}

/** A run of one family's merged series, in key order; `first` when the family starts with it. */
export interface Run {
  family: FamilyMeta;
  first: boolean;
  /** A shard's page as it came when one shard holds the family; merged columns otherwise. */
  series: SeriesColumns;
  /** The family's series as its only shard rendered them (a scrape's read; `series` is then empty). */
  rendered?: Rendered;
}

/**
 * Bytes of pages a read has asked for at once, over all shards: each shard's cursor holds its page
 * and has asked for the next. A page that lives through two young-generation collections is moved
 * to V8's old generation, and is garbage there until a full collection: with 512 KB pages from each
 * of 8 shards (8 MB of pages at once) a 1M-series scrape's Worker heap peaked at 60-68 MB, with
 * 192 KB pages (3 MB) at 45-52 MB, for ~15% more time (more pages).
 */
export const READ_BYTES_IN_FLIGHT = 3 * 1024 * 1024;

/** The page size a read asks of each of `shards` shards: within {@link READ_BYTES_IN_FLIGHT}, 64-512 KB. */
export function pageBytesFor(shards: number): number {
  return Math.max(64 * 1024, Math.min(512 * 1024, Math.floor(READ_BYTES_IN_FLIGHT / (2 * Math.max(1, shards)))));
}

const NO_SERIES: SeriesColumns = { keys: [], values: [], from: 0, to: 0 };

export interface MergeOptions {
  /** Bytes per page asked of each shard ({@link pageBytesFor} the shards when absent). */
  pageBytes?: number;
  /** Merged series per run handed to the consumer (a family one shard holds comes a page at a time). */
  runSeries?: number;
  /** Only this group's series. */
  group?: string;
  /** The read's time (expired series are left out); now when absent. */
  now?: number;
  notes?: MergeNotes;
  /** Series whose histogram layouts differed between shards (merged over their common bounds), by family. */
  narrowed?: Map<string, number>;
  /** What the read is, for error messages ("scrape", "export", ...). */
  what: string;
  /**
   * A scrape's render options: a family one shard holds may come rendered by it (see
   * {@link PageRequest.render}); the Worker reads it again as columns when another shard holds it too.
   */
  render?: RenderOptions;
}

/** Fetches a shard's page after a cursor; `only` reads just that family, as columns. */
type Fetch = (after: Cursor | null, only?: string) => Promise<Page>;

/** How many positions a page family has: its series, or one for a rendered family. */
function positions(f: PageFamily): number {
  return f.rendered === undefined ? f.keys.length : 1;
}

/** The pages of one shard, one ahead. */
class ShardCursor {
  readonly #fetch: Fetch;
  readonly #only: string | undefined;
  #page: Page | null = null;
  #ahead: Promise<Page> | null = null;
  #family = 0;
  #series = 0;
  #done = false;

  constructor(fetch: Fetch, only?: string) {
    this.#fetch = fetch;
    this.#only = only;
    this.#ahead = fetch(null, only);
  }

  /** A cursor over this shard's series of one family only, as columns, from its first. */
  familyCursor(name: string): ShardCursor {
    return new ShardCursor(this.#fetch, name);
  }

  /** Moves past the current family when it came rendered (only after `ready()` answered true). */
  takeRendered(): Rendered {
    const r = this.family.rendered;
    if (r === undefined) throw new Error("the current family is not rendered");
    this.#series = 1;
    return r;
  }

  /** Makes the current position valid (fetching the next page when this one is used up); false at the end. */
  async ready(): Promise<boolean> {
    for (;;) {
      if (this.#done) return false;
      const page = this.#page;
      if (page !== null) {
        const family = page.families[this.#family];
        if (family !== undefined && this.#series < positions(family)) return true;
        if (family !== undefined) {
          this.#family++;
          this.#series = 0;
          continue;
        }
        // This page is used up.
        if (page.next === null) {
          this.#done = true;
          return false;
        }
      }
      if (this.#ahead === null) {
        this.#done = true;
        return false;
      }
      const next = await this.#ahead;
      this.#page = next;
      this.#family = 0;
      this.#series = 0;
      this.#ahead = next.next === null ? null : this.#fetch(next.next, this.#only);
    }
  }

  /** The current family (only after `ready()` answered true). */
  get family(): PageFamily {
    const f = this.#page?.families[this.#family];
    if (f === undefined) throw new Error("no current family");
    return f;
  }

  get key(): string {
    return this.family.keys[this.#series] ?? "";
  }

  /** The current series' value and last write (read them, then `skip()`: no array per series). */
  get value(): SeriesValue {
    return this.family.values[this.#series] ?? NaN;
  }

  get updated(): number {
    return this.family.updated[this.#series] ?? 0;
  }

  /** Moves past the current series. */
  skip(): void {
    if (this.#series >= this.family.keys.length) throw new Error("no current series");
    this.#series++;
  }

  /** Whether the position is on a series of the current page (no fetch needed to read it). */
  get valid(): boolean {
    const f = this.#page?.families[this.#family];
    return f !== undefined && this.#series < positions(f);
  }

  /** The rest of the current family's series on this page (the page's own columns), moving past them. */
  takeRest(): SeriesColumns {
    const f = this.family;
    const rest = { keys: f.keys, values: f.values, from: this.#series, to: f.keys.length };
    this.#series = f.keys.length;
    return rest;
  }
}

/**
 * Every family the shards hold (merged), as runs of series in key order. A shard that fails or is
 * slower than the deadline fails the whole read with Unavailable: never a silently partial result.
 */
export async function* mergedRuns(env: Env, shards: number, options: MergeOptions): AsyncGenerator<Run> {
  const pageBytes = options.pageBytes ?? pageBytesFor(shards);
  const runSeries = options.runSeries ?? 2_000;
  const now = options.now ?? Date.now();
  const notes = options.notes ?? { narrowed: 0 };
  const cursors = Array.from({ length: shards }, (_, i) => {
    const stub = shardStub(env, i);
    return new ShardCursor((after, only) => {
      const request: PageRequest = { after, maxBytes: pageBytes, now };
      if (options.group !== undefined) request.group = options.group;
      if (only !== undefined) request.only = only;
      else if (options.render !== undefined) {
        request.render = options.render;
        request.rotating = shards > 1;
      }
      return withDeadline(stub.read(request) as unknown as Promise<Page>, `${options.what}: shard ${i}`);
    });
  });
  const live = async (): Promise<ShardCursor[]> => {
    const ready = await Promise.all(cursors.map((c) => c.ready()));
    return cursors.filter((_, i) => ready[i]);
  };
  let active = await live();
  while (active.length > 0) {
    // The smallest family name among the shards' current positions.
    let name: string | undefined;
    for (const c of active) if (name === undefined || c.family.name < name) name = c.family.name;
    if (name === undefined) break;
    const holders = active.filter((c) => c.family.name === name);
    const lead = holders[0]?.family;
    if (lead === undefined) break;
    const family: FamilyMeta = {
      name,
      type: lead.type,
      help: holders.find((c) => c.family.help !== "")?.family.help ?? "",
      unit: holders.find((c) => c.family.unit !== "")?.family.unit ?? "",
    };
    let first = true;
    const only = holders.length === 1 ? holders[0] : undefined;
    if (only !== undefined) {
      // One shard holds the family: its pages' columns are the result as they are, a run a page.
      for (;;) {
        const type = only.family.type;
        if (only.family.rendered !== undefined) {
          const rendered = only.takeRendered();
          if (type === family.type) {
            yield { family, first, series: NO_SERIES, rendered };
            first = false;
          }
        } else {
          const rest = only.takeRest();
          if (type === family.type && rest.to > rest.from) {
            yield { family, first, series: rest };
            first = false;
          }
        }
        if (!(await only.ready()) || only.family.name !== name) break;
      }
    }
    let keys: string[] = [];
    let values: SeriesValue[] = [];
    const run = (): Run => {
      const out: Run = { family, first, series: { keys, values, from: 0, to: keys.length } };
      first = false;
      keys = [];
      values = [];
      return out;
    };
    let inFamily = only === undefined ? holders : [];
    if (inFamily.some((c) => c.family.rendered !== undefined)) {
      // Another shard holds series of a family a shard rendered: its series are read again, as
      // columns, to be merged (and that shard hands the family over as columns from now on).
      inFamily = inFamily.map((c) => {
        if (c.family.rendered === undefined) return c;
        c.takeRendered();
        return c.familyCursor(name);
      });
      const ready = await Promise.all(inFamily.map((c) => (c.valid ? true : c.ready())));
      inFamily = inFamily.filter((c, i) => ready[i] === true && c.family.name === name);
    }
    while (inFamily.length > 0) {
      let key: string | undefined;
      for (const c of inFamily) if (key === undefined || c.key < key) key = c.key;
      if (key === undefined) break;
      let merged: SeriesValue | undefined;
      let updated = 0;
      const narrowedBefore = notes.narrowed;
      for (const c of inFamily) {
        if (c.key !== key) continue;
        const value = c.value;
        const at = c.updated;
        c.skip();
        // A part of another type (the registry prevents it at push time) is left out.
        if (c.family.type !== family.type) continue;
        if (merged === undefined) merged = value;
        else merged = combine(family.type, merged, updated, value, at, notes);
        updated = Math.max(updated, at);
      }
      if (notes.narrowed > narrowedBefore) options.narrowed?.set(name, (options.narrowed.get(name) ?? 0) + 1);
      if (merged !== undefined) {
        keys.push(key);
        values.push(merged);
      }
      if (keys.length >= runSeries) yield run();
      // A shard whose page ran out fetches its next; those whose family ended move on.
      if (inFamily.some((c) => !c.valid)) {
        const ready = await Promise.all(inFamily.map((c) => (c.valid ? true : c.ready())));
        inFamily = inFamily.filter((c, i) => ready[i] === true && c.family.name === name);
      } else {
        inFamily = inFamily.filter((c) => c.family.name === name);
      }
    }
    if (keys.length > 0) yield run();
    active = await live();
  }
}
