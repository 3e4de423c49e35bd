/**
 * What a shard asks the registry before it takes a batch (only what is new to it: families, label
 * names, series as hashes), how it reads the answers, and what it tells the registry afterwards
 * (series it no longer holds, admitted writes that did not become).
 */
import { newLabelNames } from "../common/labels";
import type { CommitResult } from "./commit";
import type { FamilyState } from "./family";
import type { Outcome } from "./contract";
import { keyHash } from "./directory";
import type { WriteItem } from "./plan";
import type { AdmitFamily, AdmitItem, AdmitVerdict } from "./registry";
import type { ShardState } from "./state";

/** What the shard asks the registry about a family, with the keys it keeps to itself. */
export type LocalAdmitFamily = AdmitFamily & { keyNames: string[] };
export type LocalAdmit = Omit<AdmitItem, "families"> & { families: LocalAdmitFamily[] };

/** What of a write is new to this shard, for the registry; undefined when nothing is. */
export function admissionOf(state: ShardState, item: WriteItem, familyLimit: number): LocalAdmit | undefined {
  const families: LocalAdmitFamily[] = [];
  const retype: string[] = [];
  for (const family of item.push) {
    const stored = state.families.get(family.name);
    const fresh = stored === undefined || stored.type !== family.type;
    const known = fresh ? [] : [...stored.labelNames];
    const labels: string[] = [];
    const keys: number[] = [];
    const keyNames: string[] = [];
    // Indexed: an unoptimized for-of allocates an iterator result per series of a big push.
    for (let k = 0; k < family.keys.length; k++) {
      const key = family.keys[k] ?? "";
      if (!fresh && stored.slot(key) >= 0) continue;
      keys.push(keyHash(key));
      keyNames.push(key);
      for (const name of newLabelNames(key, known)) {
        known.push(name);
        labels.push(name);
      }
    }
    // New HELP or UNIT text: the registry tells the other shards holding the family, so that every
    // shard shows the latest one whatever shard a family's series live on.
    const meta = !fresh && ((family.help !== "" && family.help !== stored.help) || (family.unit !== "" && family.unit !== stored.unit));
    if (!fresh && keys.length === 0 && !meta) continue;
    const admit: LocalAdmitFamily = { name: family.name, type: family.type, labels, keys, keyNames };
    // A group's replace frees the room of the series it does not carry again: the registry counts
    // them from what it knows the group holds, less those it carries that are held here already
    // (only when it brings new ones: the limit cannot be at stake otherwise).
    if (keys.length > 0 && item.options.mode === "replace" && item.options.source === undefined && item.options.group !== "") {
      admit.carried = fresh ? 0 : heldFor(state, stored, item.options.group, family.keys);
    }
    if (family.help !== "" && family.help !== stored?.help) admit.help = family.help;
    if (family.unit !== "" && family.unit !== stored?.unit) admit.unit = family.unit;
    families.push(admit);
    // A replacing push may change a family's type only if its group holds all of the family here
    // (the registry then checks no other shard holds it); otherwise the registry refuses it.
    // (A source's replace replaces only what is remembered of the source: never a type.)
    if (stored !== undefined && stored.type !== family.type && item.options.mode === "replace" && item.options.source === undefined && ownedOnlyBy(state, stored, item.options.group)) {
      retype.push(family.name);
    }
  }
  return families.length === 0 ? undefined : { group: item.options.group, families, retype, familyLimit };
}

/** How many of `keys` the family holds here for `group`. */
function heldFor(state: ShardState, family: FamilyState, group: string, keys: readonly string[]): number {
  let n = 0;
  for (const key of keys) {
    const slot = family.slot(key);
    if (slot >= 0 && state.groupOf(family, slot).key === group) n++;
  }
  return n;
}

/** Whether every series of the family here belongs to `group`. */
function ownedOnlyBy(state: ShardState, family: FamilyState, group: string): boolean {
  for (const slot of family.slots.values()) if (state.groupOf(family, slot).key !== group) return false;
  return true;
}

/** The items as they travel: only hashes, the keys stay with the shard. */
export function forRegistry(asked: readonly LocalAdmit[]): AdmitItem[] {
  return asked.map((a) => ({ ...a, families: a.families.map(({ keyNames: _, ...f }) => f) }));
}

/** A verdict with the series it names (by index) written into its message. */
export function withSeriesNamed(answer: AdmitVerdict | undefined, asked: LocalAdmit | undefined): AdmitVerdict | undefined {
  if (answer === undefined || !("error" in answer) || answer.error.series === undefined) return answer;
  const [family, index] = answer.error.series;
  const key = asked?.families.find((f) => f.name === family)?.keyNames[index] ?? "";
  return { error: { ...answer.error, message: answer.error.message.replace("{series}", `${family}{${key}}`) } };
}

/**
 * After a batch: the series this shard no longer holds (by family, as hashes), and families whose
 * admission came to nothing here, for the registry. Label names the registry accepted for writes
 * that were applied become the families' own. `alone`: the batch was one write.
 */
export function releasesAfter(
  state: ShardState,
  committed: readonly CommitResult[],
  admitted: readonly (LocalAdmit | undefined)[],
  outcomes: readonly (Outcome | undefined)[],
  alone = false,
): { released: Map<string, number[]>; unclaimed: Set<string> } {
  // `unclaimed`: families the registry may now hold wrongly (admitted, then not applied): it checks them with the shards.
  const released = new Map<string, number[]>();
  const add = (family: string, hash: number) => {
    const list = released.get(family);
    if (list === undefined) released.set(family, [hash]);
    else list.push(hash);
  };
  for (const c of committed) for (const r of c.removed) add(r.family, keyHash(r.key));
  const unclaimed = new Set<string>();
  admitted.forEach((a, i) => {
    const o = outcomes[i];
    if (a === undefined || o === undefined) return;
    for (const f of a.families) {
      const family = state.families.get(f.name);
      if ("ok" in o) family?.addLabelNames(f.labels);
      // Admitted and not held now: the write was not applied (planning or storage failed), or a later
      // write of the same batch removed what it added (a PUT replacing a PUT): never stored, so never
      // among the removals either. The registry must not keep them, nor a type nothing holds.
      // A batch of one write that was applied holds every series it was admitted for (it staged
      // them all, and no later write removed one): no lookup per series (100k for a 100k push).
      if (alone && "ok" in o && family !== undefined && family.type === f.type) continue;
      f.keys.forEach((hash, k) => {
        if (family === undefined || family.type !== f.type || family.slot(f.keyNames[k] ?? "") < 0) add(f.name, hash);
      });
      if (family === undefined || family.type !== f.type) unclaimed.add(f.name);
    }
  });
  return { released, unclaimed };
}
