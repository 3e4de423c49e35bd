// Property tests of the gateway's invariants (fast-check, fixed seeds): over generated sequences of
// RPC writes, pushes (RPC and Pushgateway HTTP, text and OpenMetrics), deletes and restarts,
// 1. the outcomes and the final scrapes are the same whatever SHARDS is (1 against 2, 3, 4 and 5),
//    and delete("__all") leaves nothing registered;
// 2. every scrape, in every format and escaping, parses with the gateway's own parser and holds
//    exactly the text scrape's series (names escaped, OpenMetrics leaving out what it cannot carry);
// 3. a rejected write leaves the scrape and the type registry exactly as they were;
// 4. a restart changes no scrape, and memory always equals what a restart rebuilds (verify()).
// A failure prints the shrunk sequence (one call per operation) and what differed. The generators
// are in test/properties/ops.ts, push bodies in bodies.ts, the runner in apply.ts, the scrape
// checks in scrapes.ts.
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, it } from "vitest";
import { shardName } from "../src/aggregator/objects";
import { apply, MAX_SHARDS, type Outcome, registered, reset, withGateway } from "./properties/apply";
import { describeOp, type Op, operations } from "./properties/ops";
import { maskPushTimes, scrapeAll, scrapeProblems, type Scrapes, userPart, VARIANTS, variantName } from "./properties/scrapes";

/**
 * Cases per property and their seeds: CI runs the same cases every time, and a failure replays
 * (fast-check prints the seed and path). Sized for about 35 s in all on a 2-core machine when
 * every property holds.
 */
const EQUALITY = { numRuns: 8, seed: 0x5eed11 } as const;
const PARSES = { numRuns: 10, seed: 0x5eed12 } as const;
const REJECTED = { numRuns: 16, seed: 0x5eed13 } as const;
const RESTARTS = { numRuns: 16, seed: 0x5eed14 } as const;

/**
 * Shrinking replays whole sequences (up to five gateways each): after a property's first failure,
 * it gets this long, then the best counterexample so far is reported. fast-check's own limit is a
 * safety net below vitest's timeout (a property still running after its test timed out would write
 * into the next test's gateway).
 */
const SHRINK_MS = 10_000;
const LIMITS = { interruptAfterTimeLimit: 50_000, markInterruptAsFailure: true } as const;
const TIMEOUT = 60_000;

/** What a property ran, printed after it so the counts can be stated. */
class Tally {
  cases = 0;
  /** Sequences replayed while shrinking a failure (not counted as cases). */
  shrinks = 0;
  shrinking = false;
  ops = 0;
  runs = 0;
  longest = 0;
  shortest = Infinity;
  readonly outcomes = new Map<string, number>();
  #start = 0;

  sequence(ops: readonly Op[]): void {
    if (this.cases === 0) this.#start = Date.now();
    if (this.shrinking) {
      this.shrinks++;
      return;
    }
    this.cases++;
    this.ops += ops.length;
    this.longest = Math.max(this.longest, ops.length);
    this.shortest = Math.min(this.shortest, ops.length);
  }

  run(): void {
    if (!this.shrinking) this.runs++;
  }

  outcome(o: Outcome): void {
    if (this.shrinking) return;
    const k = "error" in o ? o.error : "ok";
    this.outcomes.set(k, (this.outcomes.get(k) ?? 0) + 1);
  }

  toString(): string {
    const outcomes = [...this.outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
    const shrunk = this.shrinking ? `, then ${this.shrinks} sequences replayed shrinking the failure` : "";
    return `${this.cases} cases of ${this.shortest}-${this.longest} ops (${this.ops} in all), ${this.runs} gateway runs${shrunk}, ${Date.now() - this.#start} ms; outcomes of the generated cases (SHARDS=1 where several): ${outcomes}`;
  }
}

/**
 * A property's body, tallied, and cut short once it has spent {@link SHRINK_MS} shrinking: later
 * candidates pass untried, and fast-check reports the smallest failure found by then.
 */
function budgeted<A extends unknown[]>(tally: Tally, body: (...args: [...A, Op[]]) => Promise<void>): (...args: [...A, Op[]]) => Promise<void> {
  let failedAt: number | undefined;
  return async (...args) => {
    if (failedAt !== undefined && Date.now() - failedAt > SHRINK_MS) return;
    tally.sequence(args[args.length - 1] as Op[]);
    try {
      await body(...args);
    } catch (error) {
      failedAt ??= Date.now();
      tally.shrinking = true;
      throw error;
    }
  };
}

function failure(ops: readonly Op[], shards: number, problems: readonly string[]): Error {
  const listing = ops.map((op, i) => `  ${i}: ${describeOp(op)}`).join("\n");
  return new Error(`SHARDS=${shards}:\n${problems.map((p) => `- ${p}`).join("\n")}\nsequence:\n${listing}`);
}

/** User families of every scrape, push times masked (wall-clock times differ between runs). */
function comparable(scrapes: Scrapes): Map<string, string> {
  return new Map([...scrapes].map(([k, s]) => [k, maskPushTimes(userPart(s))]));
}

/** Every difference between memory and storage on every shard (verify() rebuilds from storage). */
async function verifyAll(): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < MAX_SHARDS; i++) {
    for (const d of await env.AGGREGATOR.getByName(shardName(i)).verify()) out.push(`verify() on shard ${i}: ${d}`);
  }
  return out;
}

/** Starts a run on empty shards and a clean registry, whatever an earlier case left (see `reset`). */
async function emptied(shards: number): Promise<void> {
  await reset();
  const left = userPart(await withGateway(shards, (g) => g.scrape()));
  if (left !== "") throw new Error(`delete("__all") left:\n${left}`);
}

const ANY_SHARDS = fc.integer({ min: 1, max: MAX_SHARDS });

describe("gateway invariants over generated operation sequences", () => {
  const equality = new Tally();
  it(`gives the same outcomes and final scrapes with SHARDS=1 as with 2, 3, 4 and 5, and delete("__all") leaves nothing registered (${EQUALITY.numRuns} cases of 5-25 ops x 5 gateways)`, async () => {
    const property = fc.asyncProperty(
      operations(5, 25, false),
      budgeted(equality, async (ops: Op[]) => {
        // SHARDS=1 first; each other SHARDS is compared with it as soon as it ran (a failure replays less while shrinking).
        let one: { outcomes: Outcome[]; scrapes: Map<string, string> } | undefined;
        for (const shards of [1, 2, 3, 4, 5]) {
          await emptied(shards);
          equality.run();
          const outcomes: Outcome[] = [];
          for (const op of ops) outcomes.push(await apply(shards, op));
          const scrapes = comparable(await withGateway(shards, (g) => scrapeAll(g)));
          // Types and label names no shard holds any more would judge the next writes.
          const left = (await reset()).map((l) => `delete("__all") left the registry holding ${l}, which no shard holds`);
          if (left.length > 0) throw failure(ops, shards, left);
          if (one === undefined) {
            one = { outcomes, scrapes };
            for (const o of outcomes) equality.outcome(o);
            continue;
          }
          const problems: string[] = [];
          ops.forEach((op, i) => {
            const a = JSON.stringify(one?.outcomes[i]);
            const b = JSON.stringify(outcomes[i]);
            if (a !== b) problems.push(`op ${i} ${describeOp(op)}: SHARDS=1 ${a}, SHARDS=${shards} ${b}`);
          });
          for (const v of VARIANTS) {
            const a = one.scrapes.get(variantName(v)) ?? "";
            const b = scrapes.get(variantName(v)) ?? "";
            if (a !== b) problems.push(`final ${variantName(v)} scrape differs:\n--- SHARDS=1\n${a}--- SHARDS=${shards}\n${b}---`);
          }
          if (problems.length > 0) throw failure(ops, shards, problems);
        }
      }),
    );
    try {
      await fc.assert(property, { ...EQUALITY, ...LIMITS });
    } finally {
      console.log(`SHARDS equality: ${equality}`);
    }
  }, TIMEOUT);

  const parses = new Tally();
  it(`writes every scrape, in every format and escaping, so that it parses back to the text scrape's series (${PARSES.numRuns} cases of 5-15 ops, SHARDS 1-5, 8 scrapes after each op)`, async () => {
    const property = fc.asyncProperty(
      ANY_SHARDS,
      operations(5, 15, false),
      budgeted(parses, async (shards: number, ops: Op[]) => {
        parses.run();
        await emptied(shards);
        for (const [i, op] of ops.entries()) {
          parses.outcome(await apply(shards, op));
          const problems = scrapeProblems(await withGateway(shards, (g) => scrapeAll(g)));
          if (problems.length > 0) throw failure(ops.slice(0, i + 1), shards, [`after op ${i}:`, ...problems]);
        }
      }),
    );
    try {
      await fc.assert(property, { ...PARSES, ...LIMITS });
    } finally {
      console.log(`every scrape parses: ${parses}`);
    }
  }, TIMEOUT);

  const rejected = new Tally();
  it(`leaves the scrape and the type registry as they were when it rejects a write (${REJECTED.numRuns} cases of 5-25 ops, with SHARDS=1 and again with SHARDS 2-5)`, async () => {
    const property = fc.asyncProperty(
      fc.integer({ min: 2, max: MAX_SHARDS }),
      operations(5, 25, false),
      budgeted(rejected, async (n: number, ops: Op[]) => {
        for (const shards of [1, n]) {
          rejected.run();
          await emptied(shards);
          let before = userPart(await withGateway(shards, (g) => g.scrape({ escaping: "allow-utf-8" })));
          let registryBefore = await registered();
          for (const [i, op] of ops.entries()) {
            const outcome = await apply(shards, op);
            if (shards === 1) rejected.outcome(outcome);
            const after = userPart(await withGateway(shards, (g) => g.scrape({ escaping: "allow-utf-8" })));
            const registryAfter = await registered();
            if ("error" in outcome) {
              const problems: string[] = [];
              // The Pushgateway's push_failure_time_seconds records a failed push to a group: its value may change.
              const a = maskPushTimes(before, ["push_failure_time_seconds"], true);
              const b = maskPushTimes(after, ["push_failure_time_seconds"], true);
              if (a !== b) problems.push(`op ${i} was rejected (${outcome.error}) but changed the scrape:\n--- before\n${a}--- after\n${b}---`);
              // Nor may it leave a type or label name registered, by which later writes are judged.
              const gained = registryAfter.filter((r) => !registryBefore.includes(r));
              const lost = registryBefore.filter((r) => !registryAfter.includes(r));
              if (gained.length + lost.length > 0) {
                problems.push(`op ${i} was rejected (${outcome.error}) but changed the type registry: added [${gained.join("; ")}], removed [${lost.join("; ")}]`);
              }
              if (problems.length > 0) throw failure(ops.slice(0, i + 1), shards, problems);
            }
            before = after;
            registryBefore = registryAfter;
          }
        }
      }),
    );
    try {
      await fc.assert(property, { ...REJECTED, ...LIMITS });
    } finally {
      console.log(`rejected writes: ${rejected}`);
    }
  }, TIMEOUT);

  // Last: every abortAllDurableObjects() makes later Durable Object calls in this file a little
  // slower (vitest-pool-workers 0.15.1 keeps something of each aborted object), so the restarts
  // are kept to this property.
  const restarts = new Tally();
  it(`changes no scrape by a restart, and verify() finds memory equal to storage on every shard (${RESTARTS.numRuns} cases of 5-25 ops, SHARDS 1-5)`, async () => {
    const property = fc.asyncProperty(
      ANY_SHARDS,
      operations(5, 25, true),
      budgeted(restarts, async (shards: number, ops: Op[]) => {
        restarts.run();
        await emptied(shards);
        for (const [i, op] of ops.entries()) {
          if (op.op !== "restart") {
            restarts.outcome(await apply(shards, op));
            continue;
          }
          restarts.outcome({ ok: "restart" });
          const problems = await verifyAll();
          const before = await withGateway(shards, (g) => scrapeAll(g));
          await apply(shards, op);
          const after = await withGateway(shards, (g) => scrapeAll(g));
          for (const v of VARIANTS) {
            const a = userPart(before.get(variantName(v)) ?? "");
            const b = userPart(after.get(variantName(v)) ?? "");
            if (a !== b) problems.push(`${variantName(v)} scrape changed by the restart:\n--- before\n${a}--- after\n${b}---`);
          }
          if (problems.length > 0) throw failure(ops.slice(0, i + 1), shards, [`at op ${i}:`, ...problems]);
        }
        const problems = await verifyAll();
        if (problems.length > 0) throw failure(ops, shards, ["after the sequence:", ...problems]);
      }),
    );
    try {
      await fc.assert(property, { ...RESTARTS, ...LIMITS });
    } finally {
      console.log(`restarts: ${restarts}`);
    }
  }, TIMEOUT);
});
