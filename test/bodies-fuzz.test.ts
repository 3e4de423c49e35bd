// Malformed push bodies (mutated delimited protobuf, garbage under gzip and snappy) are refused with
// a 4xx and change nothing: never a 5xx, never a partial write. Mutations are seeded (replayable).
import { exports } from "cloudflare:workers";
import { compress } from "snappyjs";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { prng } from "./prng";
import { withoutSelfMetrics } from "./helpers";

const gw = exports.default;
const PROTOBUF = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

function call(path: string, init?: RequestInit): Promise<Response> {
  return gw.fetch(new Request(`http://gateway${path}`, init));
}

/** A copy of `body` with 1 to 4 random edits: a byte changed, bytes cut off, or bytes inserted. */
function mutate(body: Uint8Array, rand: () => number): Uint8Array {
  let out = Uint8Array.from(body);
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * out.length);
    const kind = rand();
    if (kind < 0.5) out[at] = Math.floor(rand() * 256);
    else if (kind < 0.7) out = out.slice(0, at);
    else {
      const extra = Uint8Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256));
      out = Uint8Array.from([...out.slice(0, at), ...extra, ...out.slice(at)]);
    }
  }
  return out;
}

beforeEach(async () => {
  await call("/api/v1/admin/wipe", { method: "PUT" });
});

describe("malformed push bodies", () => {
  it("never answer 5xx, and a refused one changes nothing (200 mutated protobuf bodies, 100 garbage gzip and snappy bodies)", { timeout: 120_000 }, async () => {
    const valid = new Uint8Array(inject("protobufPush"));
    const rand = prng(0xb0d1e5);
    const statuses = new Map<number, number>();
    const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
    const scrape = async () => withoutSelfMetrics(await (await call("/metrics")).text());
    let before = await scrape();
    for (let i = 0; i < 200; i++) {
      const body = mutate(valid, rand);
      const r = await call(`/metrics/job/fz/n/${i}`, { method: "POST", headers: { "Content-Type": PROTOBUF }, body });
      count(r.status);
      expect(r.status, `mutation ${i}: ${await r.clone().text()}`).toBeLessThan(500);
      const after = await scrape();
      // A refused push changes nothing but its group's push_failure_time_seconds (a new group's is not shown).
      if (r.status >= 400) expect(after.split("\n").filter((l) => !l.startsWith("push_failure_time_seconds")), `mutation ${i} was refused`).toEqual(before.split("\n").filter((l) => !l.startsWith("push_failure_time_seconds")));
      before = after;
    }
    for (let i = 0; i < 100; i++) {
      const garbage = Uint8Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
      const encoding = i % 2 === 0 ? "gzip" : "snappy";
      const body = encoding === "snappy" && i % 4 === 1 ? compress(garbage) : garbage;
      const r = await call("/metrics/job/gz", { method: "POST", headers: { "Content-Encoding": encoding }, body });
      count(r.status);
      expect(r.status, `${encoding} ${i}`).toBeLessThan(500);
    }
    // The mutations exercise both sides: some bodies still decode (2xx), most do not (4xx).
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  });
});
