/**
 * Group commit: writes arriving in one gateway isolate within a short window go to a shard as one
 * Durable Object call. Each caller's promise settles only with its own outcome, after the shard
 * committed the batch, so nothing is acknowledged before it is durable.
 */
import type { PushResult } from "../rpc";
import type { ApplyOptions } from "./aggregator";
import { GatewayError, isErrorName } from "./errors";
import type { PreparedFamily } from "./merge";
import { shardStub } from "./shards";

/** How long the first write of a batch waits for others. */
export const WINDOW_MS = 2;
/** A batch is sent at once when it holds this many writes. */
export const MAX_BATCH = 256;

interface Pending {
  push: PreparedFamily[];
  options: ApplyOptions;
  resolve: (result: PushResult) => void;
  reject: (error: Error) => void;
}

/** One isolate's batcher. Batches of ungrouped writes rotate over the shards to spread the load. */
export class GroupCommit {
  #batches = new Map<number, Pending[]>();
  #timers = new Map<number, ReturnType<typeof setTimeout>>();
  #next = 0;
  /** The shard the open batch of ungrouped writes goes to, if one is open. */
  #ungrouped: number | undefined;

  /**
   * The shard for an ungrouped write: the open ungrouped batch's, or the next in rotation, so
   * batches spread over the shards while each batch stays one call.
   */
  shardForUngrouped(shards: number): number {
    if (this.#ungrouped !== undefined && this.#ungrouped < shards && this.#batches.has(this.#ungrouped)) return this.#ungrouped;
    this.#ungrouped = this.#next++ % shards;
    return this.#ungrouped;
  }

  /** Queues one write for `shard`; resolves with its result once the shard committed it. */
  submit(env: Env, shard: number, push: PreparedFamily[], options: ApplyOptions): Promise<PushResult> {
    return new Promise<PushResult>((resolve, reject) => {
      let batch = this.#batches.get(shard);
      if (batch === undefined) {
        batch = [];
        this.#batches.set(shard, batch);
        this.#timers.set(
          shard,
          setTimeout(() => void this.#flush(env, shard), WINDOW_MS),
        );
      }
      batch.push({ push, options, resolve, reject });
      if (batch.length >= MAX_BATCH) void this.#flush(env, shard);
    });
  }

  async #flush(env: Env, shard: number): Promise<void> {
    const batch = this.#batches.get(shard);
    if (batch === undefined) return;
    this.#batches.delete(shard);
    if (this.#ungrouped === shard) this.#ungrouped = undefined;
    const timer = this.#timers.get(shard);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(shard);
    try {
      const stub = shardStub(env, shard);
      if (batch.length === 1 && batch[0] !== undefined) {
        const only = batch[0];
        only.resolve(await stub.apply(only.push, only.options));
        return;
      }
      const outcomes = await stub.applyBatch(batch.map((p) => ({ push: p.push, options: p.options })));
      batch.forEach((p, i) => {
        const outcome = outcomes[i];
        if (outcome === undefined) p.reject(new GatewayError("Unavailable", "the shard answered fewer outcomes than writes; retry"));
        else if ("ok" in outcome) p.resolve(outcome.ok);
        else p.reject(asError(outcome.error));
      });
    } catch (error) {
      for (const p of batch) p.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function asError(e: { name: string; message: string }): Error {
  if (isErrorName(e.name)) return new GatewayError(e.name, e.message);
  const error = new Error(e.message);
  error.name = e.name;
  return error;
}

/** The isolate's batcher (module state lives as long as the isolate). */
export const groupCommit = new GroupCommit();
