/** The check behind `Aggregator.verify()`: memory against what a restart would rebuild from storage. */
import type { ShardState } from "./state";

/** The differences between two states, as what a person reads. */
export function diffStates(memory: ShardState, stored: ShardState): string[] {
  const out: string[] = [];
  const describe = (s: ShardState) => {
    const series = new Map<string, string>();
    for (const f of s.families.values()) {
      for (const [key, slot] of f.slots) {
        const v = f.value(slot);
        const value = typeof v === "number" ? bits(v) : [...v].map(bits).join(",");
        series.set(`${f.name}{${key}}`, `${f.type} ${value} updated=${f.updated(slot)} expires=${f.expires(slot)} group=${s.groupOf(f, slot).key}`);
      }
    }
    const families = new Map([...s.families.values()].map((f) => [f.name, `${f.type} help=${JSON.stringify(f.help)} unit=${f.unit}`]));
    const groups = new Map([...s.groups.values()].filter((g) => g.key !== "" && (g.pushTime > 0 || g.series > 0)).map((g) => [g.key, `push=${g.pushTime} failure=${g.failureTime} ttl=${g.ttlMs}`]));
    return { series, families, groups, stale: s.stale.map((r) => r.id).join(",") };
  };
  const a = describe(memory);
  const b = describe(stored);
  for (const kind of ["series", "families", "groups"] as const) {
    for (const [k, v] of a[kind]) if (b[kind].get(k) !== v) out.push(`${kind} ${k}: memory ${v}, storage ${b[kind].get(k) ?? "absent"}`);
    for (const [k, v] of b[kind]) if (!a[kind].has(k)) out.push(`${kind} ${k}: memory absent, storage ${v}`);
  }
  if (a.stale !== b.stale) out.push(`stale rows: memory [${a.stale}], storage [${b.stale}]`);
  if (memory.series !== stored.series) out.push(`series count: memory ${memory.series}, storage ${stored.series}`);
  return out;
}

function bits(v: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  return Number.isNaN(v) ? "NaN" : `${v}(${view.getBigUint64(0).toString(16)})`;
}

