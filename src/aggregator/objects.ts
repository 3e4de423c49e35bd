/** The Durable Objects by name: aggregator shards and the registry, and which shard a Pushgateway group lives on. */

/** The type registry object's name. */
export const REGISTRY_NAME = "registry";

/** Shard 0 keeps the name the single aggregator always had, so its data is found without a migration. */
export function shardName(index: number): string {
  return index === 0 ? "aggregator" : `aggregator-${index}`;
}

/** A shard's index from its object name (-1 for an object that is not a named shard, as in some tests). */
export function shardIndexOf(name: string | undefined): number {
  if (name === "aggregator") return 0;
  const m = /^aggregator-(\d+)$/.exec(name ?? "");
  return m === null ? -1 : Number(m[1]);
}

export function shardStub(env: Env, index: number) {
  return env.AGGREGATOR.getByName(shardName(index));
}

/** The shard a Pushgateway group lives on (FNV-1a of its grouping key), so PUT and DELETE stay atomic. */
export function shardForGroup(groupKey: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < groupKey.length; i++) {
    h ^= groupKey.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}
