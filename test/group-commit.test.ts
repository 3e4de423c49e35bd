import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import Gateway from "../src/worker/entrypoint";
import { beforeEach, describe, expect, it } from "vitest";
import { rejection, userScrape, writeCalls } from "./helpers";

const gw = exports.default;

beforeEach(async () => {
  await gw.delete("__all");
});

describe("group commit", () => {
  it("sends the writes one request submits together as exactly one Durable Object call", async () => {
    await gw.inc("one_total"); // the family exists: no registry claim
    const before = await writeCalls();
    const g = new Gateway(createExecutionContext(), env);
    await Promise.all(Array.from({ length: 60 }, () => g.inc("one_total")));
    expect((await writeCalls()) - before).toBe(1);
    expect(await userScrape()).toContain("one_total 61\n");
  });

  it("merges concurrent writes into few Durable Object calls and loses none", async () => {
    await gw.inc("warm_total"); // the family exists: later writes need no registry claim
    const before = await writeCalls();
    await Promise.all(Array.from({ length: 300 }, (_, i) => gw.inc("warm_total", undefined, 1 + (i % 3))));
    const calls = (await writeCalls()) - before;
    expect(calls).toBeGreaterThanOrEqual(1);
    // A batch goes at once when nothing is in flight, so the first ones are small: at least 4 writes a call on average.
    expect(calls).toBeLessThanOrEqual(75);
    // 1 + the sum of 1,2,3 repeated: every write counted exactly once.
    expect(await userScrape()).toContain(`warm_total ${1 + 100 * (1 + 2 + 3)}\n`);
  });

  it("fails only the bad write of a batch", async () => {
    await gw.set("g", undefined, 1);
    const results = await Promise.allSettled([gw.inc("c_total"), gw.inc("g"), gw.inc("c_total", undefined, 2)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const error = await rejection(gw.inc("g"));
    expect(error.name).toBe("TypeConflict");
    expect(await userScrape()).toContain("c_total 3\n");
  });
});
