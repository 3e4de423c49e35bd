/**
 * Shards: which aggregator object a write goes to, which ones a read must cover, and calling them
 * all with a deadline so a slow or failing shard is an error, never a silently partial answer.
 */
import { GatewayError } from "../common/errors";
import { REGISTRY_NAME } from "../aggregator/objects";

/** The most shards: the registry's directory records which shards hold a series in a 32-bit mask. */
export const MAX_SHARDS = 32;

/** The SHARDS setting: how many shards writes are spread over (1 to {@link MAX_SHARDS}). */
export function configuredShards(env: Env): number {
  const n = Math.floor(Number(env.SHARDS));
  return Number.isFinite(n) && n >= 1 ? Math.min(n, MAX_SHARDS) : 1;
}

const READ_CACHE_MS = 30_000;
/**
 * Per isolate, the answer (a number, never the pending call: a promise of an RPC call belongs to the
 * request that made it and cannot be awaited from another one).
 */
const readCache = new Map<number, { at: number; shards: number }>();

/**
 * How many shards reads must cover: the most ever written to, which the type registry remembers
 * (SHARDS may have been lowered since). Asking also registers this isolate's SHARDS there; the
 * answer is cached per isolate for a short while.
 */
export async function shardsToRead(env: Env): Promise<number> {
  const configured = configuredShards(env);
  const cached = readCache.get(configured);
  if (cached !== undefined && Date.now() - cached.at < READ_CACHE_MS) return cached.shards;
  const known = await env.REGISTRY.getByName(REGISTRY_NAME).shards(configured);
  const shards = Math.max(known, configured);
  readCache.set(configured, { at: Date.now(), shards });
  return shards;
}

/** How long a read waits for each shard. */
export const SHARD_DEADLINE_MS = 10_000;

/**
 * Calls every shard in parallel; any failure or a shard slower than the deadline fails the whole
 * call with Unavailable naming the shard (a partial scrape would look like counter resets).
 */
export async function allShards<T>(count: number, what: string, call: (index: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => withDeadline(call(index), `${what}: shard ${index}`)));
}

/**
 * A shard's answer within {@link SHARD_DEADLINE_MS}. A failure that is not one of the gateway's
 * own errors (the shard is down, reset, overloaded) becomes Unavailable, naming `what`.
 */
export async function withDeadline<T>(call: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new GatewayError("Unavailable", `${what} did not answer within ${SHARD_DEADLINE_MS / 1000} s; nothing partial is returned, retry`)),
      SHARD_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([call, deadline]);
  } catch (error) {
    if (error instanceof GatewayError && error.name === "Unavailable") throw error;
    if (error instanceof Error && error.name !== "Error" && error.name !== "TypeError") throw error;
    throw new GatewayError("Unavailable", `${what} failed (${error instanceof Error ? error.message : String(error)}); nothing partial is returned, retry`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
