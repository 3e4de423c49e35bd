/**
 * Group commit: writes arriving in one gateway isolate within a short window go to a shard as one
 * Durable Object call. Each caller learns its own outcome only after the shard committed the batch,
 * so nothing is acknowledged before it is durable.
 *
 * Workers tie I/O objects and promise continuations to the request that made them: a caller woken
 * by a promise the sending request resolves may be resumed in the wrong request (its answer then
 * fails with "Cannot perform I/O on behalf of a different request"), and a request waiting with no
 * I/O of its own is cancelled as hung. So outcomes are handed over as plain data (never an RPC
 * result object), and each caller checks for its outcome on timers of its own, backing off from
 * 1 ms to {@link MAX_POLL_MS}: a few wake-ups per write, far cheaper than a call per write.
 */
import type { Outcome as ShardOutcome, ShardPushResult } from "../aggregator/contract";
import { shardStub } from "../aggregator/objects";
import type { ApplyOptions, PreparedFamily } from "../aggregator/plan";
import { GatewayError, isErrorName } from "../common/errors";

/**
 * How long the first write of a batch waits for others. Sending at once when nothing was in flight
 * was tried: under load it made many one-write batches and halved throughput (npm run bench, a).
 */
export const WINDOW_MS = 2;
/** A batch is sent at once when it holds this many writes. */
export const MAX_BATCH = 256;
/** The longest a waiting caller sleeps between looks at its outcome. */
export const MAX_POLL_MS = 4;
/** A batch still unsent this long after it opened is sent by whichever caller notices (its opener may be gone). */
const TAKEOVER_MS = 50;
/** A caller gives up waiting for a batch in flight after this long (its outcome is then unknown: not acknowledged). */
const GIVE_UP_MS = 30_000;

type Outcome = { ok: ShardPushResult } | { error: { name: string; message: string } };

interface Item {
  push: PreparedFamily[];
  options: ApplyOptions;
  outcome?: Outcome;
}

interface Batch {
  shard: number;
  items: Item[];
  state: "open" | "sending" | "done";
  opened: number;
}

/** One isolate's batcher. Batches of ungrouped writes rotate over the shards to spread the load. */
export class GroupCommit {
  readonly #open = new Map<number, Batch>();
  #next = 0;
  /** The shard the open batch of ungrouped writes goes to, if one is open. */
  #ungrouped: number | undefined;

  /**
   * The shard for an ungrouped write: the open ungrouped batch's, or the next in rotation, so
   * batches spread over the shards while each batch stays one call.
   */
  shardForUngrouped(shards: number): number {
    if (this.#ungrouped !== undefined && this.#ungrouped < shards && this.#open.has(this.#ungrouped)) return this.#ungrouped;
    this.#ungrouped = this.#next++ % shards;
    return this.#ungrouped;
  }

  /**
   * Adds one write to `shard`'s open batch and resolves with its own result once the shard committed
   * it. `waitUntil` keeps a batch this caller sends going even if the caller's own request ends early
   * (the other writes of the batch depend on it).
   */
  async submit(env: Env, shard: number, push: PreparedFamily[], options: ApplyOptions, waitUntil: (promise: Promise<unknown>) => void): Promise<ShardPushResult> {
    let batch = this.#open.get(shard);
    const opener = batch === undefined;
    if (batch === undefined) {
      batch = { shard, items: [], state: "open", opened: Date.now() };
      this.#open.set(shard, batch);
    }
    const item: Item = { push, options };
    batch.items.push(item);

    if (batch.items.length >= MAX_BATCH) await this.#sendKept(env, batch, waitUntil);
    else if (opener) {
      await sleep(WINDOW_MS);
      await this.#sendKept(env, batch, waitUntil);
    }
    const started = Date.now();
    // The first look comes when the batch can first have been answered (its window plus a
    // millisecond), not before: each look is a timer wake-up, and they are most of the waiting cost.
    let poll = Math.max(1, batch.opened + WINDOW_MS + 1 - started);
    for (; item.outcome === undefined; poll = Math.min(MAX_POLL_MS, poll * 2)) {
      if (batch.state === "open" && Date.now() - batch.opened >= TAKEOVER_MS) await this.#sendKept(env, batch, waitUntil);
      else if (Date.now() - started > GIVE_UP_MS) {
        throw new GatewayError("Unavailable", "the write's batch got no answer from its shard in time; it may or may not have been applied, retry (counters may then count it twice)");
      } else await sleep(poll);
    }
    if ("ok" in item.outcome) return item.outcome.ok;
    throw asError(item.outcome.error);
  }

  #sendKept(env: Env, batch: Batch, waitUntil: (promise: Promise<unknown>) => void): Promise<void> {
    const sending = this.#send(env, batch);
    waitUntil(sending);
    return sending;
  }

  /** Sends a batch once (later calls do nothing) from the calling request, and records every item's outcome. */
  async #send(env: Env, batch: Batch): Promise<void> {
    if (batch.state !== "open") return;
    batch.state = "sending";
    if (this.#open.get(batch.shard) === batch) this.#open.delete(batch.shard);
    if (this.#ungrouped === batch.shard) this.#ungrouped = undefined;
    const items = batch.items;
    try {
      const stub = shardStub(env, batch.shard);
      const outcomes = (await stub.applyBatch(items.map((i) => ({ push: i.push, options: i.options })))) as ShardOutcome[];
      items.forEach((item, i) => {
        const outcome = outcomes[i];
        // Plain copies: values an RPC call returned belong to the request that made the call.
        if (outcome === undefined) item.outcome = { error: { name: "Unavailable", message: "the shard answered fewer outcomes than writes; retry" } };
        else if ("ok" in outcome) item.outcome = { ok: { families: outcome.ok.families, series: outcome.ok.series, emptied: [...(outcome.ok.emptied ?? [])] } };
        else item.outcome = { error: { name: outcome.error.name, message: outcome.error.message } };
      });
    } catch (error) {
      // The call itself failed (overload, reset, storage): the write is not acknowledged and the
      // caller can retry: Unavailable (503), not an internal error.
      const copy = {
        name: "Unavailable",
        message: `shard ${batch.shard} did not acknowledge the write (${error instanceof Error ? error.message : String(error)}); retry`,
      };
      for (const item of items) item.outcome = { error: copy };
    } finally {
      batch.state = "done";
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function asError(e: { name: string; message: string }): Error {
  if (isErrorName(e.name)) return new GatewayError(e.name, e.message);
  const error = new Error(e.message);
  error.name = e.name;
  return error;
}

/** The isolate's batcher (module state lives as long as the isolate). */
export const groupCommit = new GroupCommit();
