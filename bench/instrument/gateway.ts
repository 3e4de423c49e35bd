/**
 * A counting build of the gateway, for the bench's rows-written and lifecycle scenarios only
 * (bench/rows.mjs, bench/lifecycle.mjs). It is src/index.ts with three additions, none of which
 * changes what the gateway does:
 *
 * - every SQL statement any Durable Object of this isolate runs is counted by the rows it wrote
 *   (`cursor.rowsWritten`, what Cloudflare bills), per class and per table: the aggregator shards
 *   (which the self-metric `metrics_gateway_storage_rows_written_total` also counts) and the type
 *   registry (which no self-metric counts);
 * - every call into a Durable Object (an RPC method, or the alarm) is counted per class and method:
 *   each is one billed Durable Object request. Calls an object makes to its own methods
 *   (`alarm` -> `sweep`, `apply` -> `applyBatch`, `admit` -> `shards`) are not requests and are not
 *   counted (they start while another counted call of the same isolate is on the stack);
 * - `alarm` and `sweep` runs are timed (start, end, series removed).
 *
 * `GET /__bench/counters` answers the counts as JSON (the Worker and its Durable Objects share one
 * isolate in a single-worker Miniflare instance, so they share `globalThis`); every other request
 * goes to the gateway unchanged.
 */
import Gateway from "../../src/worker/entrypoint";
import { Aggregator as BaseAggregator } from "../../src/aggregator/aggregator";
import { TypeRegistry as BaseRegistry } from "../../src/aggregator/registry";

interface BenchCounters {
  rows: Record<string, number>;
  /** Rows written per class and table (`aggregator.chunks`, `registry.family_labels`, ...). */
  tables: Record<string, number>;
  calls: Record<string, number>;
  sweeps: { method: string; start: number; end: number; removed: number | null }[];
}

const scope = globalThis as unknown as { __benchCounters?: BenchCounters };
const counters: BenchCounters = (scope.__benchCounters ??= { rows: {}, tables: {}, calls: {}, sweeps: [] });

/** Which class each SqlStorage object belongs to. */
const owners = new WeakMap<object, string>();
let sqlHooked = false;

function hookSql(sql: SqlStorage, owner: string): void {
  owners.set(sql, owner);
  if (sqlHooked) return;
  sqlHooked = true;
  const proto = Object.getPrototypeOf(sql) as { exec: (...args: unknown[]) => SqlStorageCursor<Record<string, SqlStorageValue>> };
  const exec = proto.exec;
  proto.exec = function (this: object, ...args: unknown[]) {
    const cursor = exec.apply(this, args);
    const written = cursor.rowsWritten;
    if (written > 0) {
      const owner = owners.get(this) ?? "other";
      counters.rows[owner] = (counters.rows[owner] ?? 0) + written;
      const table = /\b(?:INTO|FROM|UPDATE)\s+([A-Za-z_]+)/i.exec(String(args[0]))?.[1] ?? "?";
      const key = `${owner}.${table}`;
      counters.tables[key] = (counters.tables[key] ?? 0) + written;
    }
    return cursor;
  };
}

/** Synchronous depth of counted calls: a call made while another is on the stack is internal. */
let depth = 0;

function countCalls(cls: { prototype: object }, owner: string): void {
  const proto = cls.prototype as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    const original = descriptor?.value;
    if (typeof original !== "function") continue;
    const timed = name === "alarm" || name === "sweep";
    proto[name] = function (this: unknown, ...args: unknown[]) {
      if (depth === 0) counters.calls[`${owner}.${name}`] = (counters.calls[`${owner}.${name}`] ?? 0) + 1;
      const start = Date.now();
      depth++;
      let result: unknown;
      try {
        result = (original as (...a: unknown[]) => unknown).apply(this, args);
      } finally {
        depth--;
      }
      if (timed && result instanceof Promise) {
        const entry = { method: name, start, end: 0, removed: null as number | null };
        counters.sweeps.push(entry);
        result.then(
          (removed: unknown) => {
            entry.end = Date.now();
            entry.removed = typeof removed === "number" ? removed : null;
          },
          () => {
            entry.end = -Date.now();
          },
        );
      }
      return result;
    };
  }
}

countCalls(BaseAggregator, "aggregator");
countCalls(BaseRegistry, "registry");

export class Aggregator extends BaseAggregator {
  constructor(ctx: DurableObjectState, env: Env) {
    hookSql(ctx.storage.sql, "aggregator");
    super(ctx, env);
  }
}

export class TypeRegistry extends BaseRegistry {
  constructor(ctx: DurableObjectState, env: Env) {
    hookSql(ctx.storage.sql, "registry");
    super(ctx, env);
  }
}

export default class BenchGateway extends Gateway {
  override async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname === "/__bench/counters") {
      return new Response(JSON.stringify({ ...counters, now: Date.now() }), { headers: { "content-type": "application/json" } });
    }
    return super.fetch(request);
  }
}
