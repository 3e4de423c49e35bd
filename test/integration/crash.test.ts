/**
 * Fault test: `wrangler dev` (real workerd, SQLite-backed Durable Objects on disk) is killed with
 * SIGKILL, the whole process group at once, several times while 8 writers push to it, and restarted
 * on the same persisted state each time. After every restart one scrape must show, for every series,
 * at least everything acknowledged before the scrape and at most everything sent until it answered:
 * nothing acknowledged is lost, nothing is counted twice.
 *
 * Timing only decides when the kills happen (seeded); no assertion depends on how fast anything is.
 * CRASH_SEED=<n> replays another schedule.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort, groupMembers, ROOT, running, type GroupProc } from "./servers";
import { prng } from "../prng";

const SEED = Number(process.env.CRASH_SEED ?? 20261201);
const WRITERS = 8;
/** Kills while the writers write; one more comes once they have stopped (see the test). */
const KILLS_UNDER_LOAD = 6;
/** A kill comes only after the instance acknowledged this many writes, so every kill hits a gateway that is working. */
const MIN_ACKS_BEFORE_KILL = 150;
/** Then it waits a seeded delay up to this long, so kills land at different points of the write path. */
const MAX_KILL_DELAY_MS = 2_000;
/** Give-up limits (failures with a message, not performance assertions). */
const START_TIMEOUT_MS = 45_000;
const PROGRESS_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 20_000;
const SCRAPE_TIMEOUT_MS = 30_000;

const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

// ---------------------------------------------------------------------------------------------
// Series and writes

/** A series as the test names it: metric name and labels sorted by name, the way the scrape is parsed. */
function seriesKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}="${v}"`);
  return `${name}{${pairs.join(",")}}`;
}

type Kind = "patch" | "push" | "job";

interface Op {
  kind: Kind;
  method: string;
  path: string;
  body: string;
  /** What the write adds to which series when it is applied. */
  adds: [string, number][];
}

/**
 * Each writer has series of its own (label `writer`), so its tallies are exact per series: an
 * ungrouped PATCH, an ungrouped multi-family POST, and a grouped Pushgateway pushAdd.
 */
function opsFor(w: number): Record<Kind, Op> {
  const writer = String(w);
  return {
    patch: {
      kind: "patch",
      method: "PATCH",
      path: `/metrics/crash_total?writer=${writer}`,
      body: "1",
      adds: [[seriesKey("crash_total", { writer }), 1]],
    },
    push: {
      kind: "push",
      method: "POST",
      path: "/metrics",
      // Two families, three series in one atomic push (crash_push_untyped has no TYPE: untyped, added).
      body: [
        "# TYPE crash_push_total counter",
        `crash_push_total{writer="${writer}",kind="a"} 1`,
        `crash_push_total{writer="${writer}",kind="b"} 2`,
        `crash_push_untyped{writer="${writer}"} 3`,
        "",
      ].join("\n"),
      adds: [
        [seriesKey("crash_push_total", { writer, kind: "a" }), 1],
        [seriesKey("crash_push_total", { writer, kind: "b" }), 2],
        [seriesKey("crash_push_untyped", { writer }), 3],
      ],
    },
    job: {
      kind: "job",
      method: "POST",
      path: `/metrics/job/crash/writer/${writer}`,
      body: ["# TYPE crash_job_total counter", 'crash_job_total{kind="a"} 1', 'crash_job_total{kind="b"} 3', ""].join("\n"),
      adds: [
        [seriesKey("crash_job_total", { job: "crash", writer, kind: "a" }), 1],
        [seriesKey("crash_job_total", { job: "crash", writer, kind: "b" }), 3],
      ],
    },
  };
}

/**
 * Pushes are atomic, so in any state (stored, scraped) a push's series stay in the proportion the
 * push has: a crash that kept half a push would break it.
 */
function atomicityProblems(w: number, stored: Map<string, number>): string[] {
  const ops = opsFor(w);
  const out: string[] = [];
  for (const op of [ops.push, ops.job]) {
    const [first, ...rest] = op.adds;
    if (first === undefined) continue;
    const units = (stored.get(first[0]) ?? 0) / first[1];
    for (const [key, by] of rest) {
      const value = stored.get(key) ?? 0;
      if (value !== units * by) out.push(`writer ${w}: ${key} = ${value} but ${first[0]} = ${stored.get(first[0]) ?? 0}: a ${op.kind} was applied in part`);
    }
  }
  return out;
}

interface Entry {
  seq: number;
  instance: number;
  kind: Kind;
  /** HTTP status, a socket error code, or "in flight". */
  outcome: string;
}

interface Writer {
  id: number;
  ops: Record<Kind, Op>;
  /** Requests started, per series: what may have been applied. */
  sent: Map<string, number>;
  /** 2xx received, per series: what must have been applied. */
  acked: Map<string, number>;
  inFlight: number;
  log: Entry[];
}

function add(tally: Map<string, number>, adds: [string, number][]): void {
  for (const [key, by] of adds) tally.set(key, (tally.get(key) ?? 0) + by);
}

/** One HTTP write on a keep-alive connection; never retried (node:http does not, unlike some clients). */
function send(agent: Agent, port: number, op: Op): Promise<string> {
  return new Promise((done) => {
    let settled = false;
    const finish = (outcome: string) => {
      if (settled) return;
      settled = true;
      done(outcome);
    };
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: op.method,
        path: op.path,
        agent,
        headers: { "Content-Type": "text/plain; version=0.0.4", "Content-Length": String(Buffer.byteLength(op.body)) },
      },
      (res) => {
        // The status line is the acknowledgement; the connection may die right after it.
        res.on("error", () => undefined);
        res.resume();
        finish(String(res.statusCode ?? 0));
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error("no answer"), { code: "TIMEOUT" })));
    req.on("error", (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
    req.end(op.body);
  });
}

// ---------------------------------------------------------------------------------------------
// Processes

async function groupGone(pgid: number, ms: number): Promise<GroupProc[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = groupMembers(pgid).filter(running);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(20);
  }
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

interface Instance {
  index: number;
  port: number;
  url: string;
  pgid: number;
  exited: Promise<Exit>;
  output(): string;
}

/** Everything the test created, for one idempotent cleanup that also runs when the test failed or timed out. */
interface Resources {
  dir: string | undefined;
  groups: Set<number>;
  agents: Agent[];
  /** Stops the writers (also when the test timed out and only afterAll runs). */
  stopWriters: () => void;
}
const resources: Resources = { dir: undefined, groups: new Set(), agents: [], stopWriters: () => undefined };

/** Kills what is left of every process group the test started and removes its directory; returns what could not be cleaned. */
async function cleanup(): Promise<string[]> {
  const problems: string[] = [];
  resources.stopWriters();
  for (const agent of resources.agents.splice(0)) agent.destroy();
  for (const pgid of resources.groups) {
    // Signal only while members exist: a pgid stays allocated as long as any process carries it, so
    // it is still ours then; once the group is empty the number could belong to someone else.
    if (groupMembers(pgid).some(running)) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    const left = await groupGone(pgid, 10_000);
    if (left.length > 0) problems.push(`process group ${pgid} still has running processes: ${left.map((p) => `${p.pid} ${p.comm} (${p.state})`).join(", ")}`);
  }
  if (resources.dir !== undefined) {
    rmSync(resources.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    if (existsSync(resources.dir)) problems.push(`could not remove ${resources.dir}`);
    else resources.dir = undefined;
  }
  return problems;
}

afterAll(async () => {
  const problems = await cleanup();
  if (problems.length > 0) throw new Error(`cleanup after the crash test failed:\n${problems.join("\n")}`);
});

/** Paths and environment of the test's own gateway. */
interface Setup {
  dir: string;
  config: string;
  bundle: string;
  state: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Everything wrangler writes goes under one temporary directory of the test's own. A killed wrangler
 * cannot remove its `.wrangler/tmp/*` folders or its dev-registry entry, so: the project's
 * wrangler.toml is copied there (main pointing back at the project's source), which puts
 * `.wrangler/tmp` there (wrangler keeps it next to the config); WRANGLER_REGISTRY_PATH keeps the
 * registry entry out of the shared one, where another test's sibling Worker would find this gateway
 * (and a stale entry after a kill); WRANGLER_LOG_PATH keeps the debug logs there too. The copy
 * also keeps a developer's .dev.vars out.
 *
 * TMPDIR points into that directory as well: each wrangler dev makes a `miniflare-<hash>` scratch
 * directory in the OS temp dir and removes it only on an orderly exit, which a SIGKILL never
 * allows, and wrangler's update check caches its answer in `<temp dir>/update-check`. Both would
 * otherwise be left in /tmp (one miniflare-* per instance). WRANGLER_HIDE_BANNER skips the banner,
 * and with it that update check (a request to the npm registry: the test talks to 127.0.0.1 only).
 *
 * The gateway is bundled once and every instance runs that bundle (`--no-bundle`): the tree is
 * shared, and an edit elsewhere in src/ during the run would otherwise hot-reload some instances
 * and not others.
 */
async function setUp(): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), "mg-crash-"));
  resources.dir = dir;
  const source = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const main = /^main\s*=\s*"([^"]+)"/m.exec(source)?.[1];
  if (main === undefined) throw new Error(`${join(ROOT, "wrangler.toml")} has no main = "..." line; the crash test cannot find the gateway's entry point`);
  const config = join(dir, "wrangler.toml");
  writeFileSync(config, source.replace(/^main\s*=.*$/m, `main = ${JSON.stringify(resolve(ROOT, main))}`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_REGISTRY_PATH: join(dir, "registry"),
    WRANGLER_LOG_PATH: join(dir, "logs"),
    TMPDIR: join(dir, "tmp"),
    WRANGLER_HIDE_BANNER: "true",
  };
  mkdirSync(join(dir, "tmp"));
  if (!existsSync(WRANGLER)) throw new Error(`cannot start the gateway: ${WRANGLER} does not exist (run npm ci)`);
  const dist = join(dir, "dist");
  await new Promise<void>((ok, fail) => {
    execFile(WRANGLER, ["deploy", "--dry-run", "--outdir", dist, "-c", config], { cwd: dir, env, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error === null) ok();
      // error.message repeats stderr; the exit code and wrangler's own words are what a reader needs.
      else fail(new Error(`cannot build the gateway: wrangler deploy --dry-run exited with ${String(error.code ?? error.signal)}:\n${stderr || stdout}`));
    });
  });
  return { dir, config, bundle: join(dist, "index.js"), state: join(dir, "state"), env };
}

/** Starts `wrangler dev` in a process group of its own and waits until the aggregator answers. */
async function startInstance(setup: Setup, index: number): Promise<Instance> {
  const port = await freePort();
  const inspector = await freePort();
  const args = ["dev", setup.bundle, "--no-bundle", "-c", setup.config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", setup.state, "--log-level", "warn", "--inspector-port", String(inspector)];
  let log = "";
  // detached: wrangler leads a new process group, and workerd (its grandchild) stays in it, so one
  // signal to the group reaches every process at the same instant.
  const child: ChildProcess = spawn(WRANGLER, args, { cwd: setup.dir, env: setup.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-8_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<Exit>((ok) => {
    child.once("error", (error) => ok({ code: null, signal: null, error }));
    child.once("exit", (code, signal) => ok({ code, signal }));
  });
  let gone: Exit | undefined;
  void exited.then((e) => (gone = e));
  const pgid = child.pid;
  if (pgid === undefined) {
    const e = await exited;
    throw new Error(`cannot start the gateway: ${WRANGLER} did not spawn (${e.error?.message ?? "no pid"})`);
  }
  resources.groups.add(pgid);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (gone !== undefined) {
      throw new Error(`the gateway did not start (instance ${index}): wrangler dev exited (code ${gone.code}, signal ${gone.signal}${gone.error ? `, ${gone.error.message}` : ""}) before ${url}/-/ready answered. Its output:\n${log}`);
    }
    if (Date.now() > deadline) throw new Error(`the gateway did not start (instance ${index}): ${url}/-/ready did not answer 200 within ${START_TIMEOUT_MS / 1000} s. Its output:\n${log}`);
    try {
      const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      await r.body?.cancel();
      if (r.ok) return { index, port, url, pgid, exited, output: () => log };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
}

/**
 * SIGKILL to the whole process group: wrangler, its esbuild services and both workerd processes die
 * at once, with no chance to flush or close anything. Checks workerd was there and running before,
 * and that nothing of the group runs after.
 */
async function kill9(instance: Instance): Promise<GroupProc[]> {
  const before = groupMembers(instance.pgid).filter(running);
  if (!before.some((p) => p.comm === "workerd")) {
    throw new Error(`instance ${instance.index}: no running workerd in process group ${instance.pgid} to kill (found ${before.map((p) => `${p.pid} ${p.comm}`).join(", ")})`);
  }
  process.kill(-instance.pgid, "SIGKILL");
  const exit = await instance.exited;
  if (exit.signal !== "SIGKILL") throw new Error(`instance ${instance.index}: wrangler ended with code ${exit.code}, signal ${exit.signal}, not by the SIGKILL`);
  const left = await groupGone(instance.pgid, 10_000);
  if (left.length > 0) throw new Error(`instance ${instance.index}: still running after SIGKILL: ${left.map((p) => `${p.pid} ${p.comm}`).join(", ")}`);
  return before;
}

// ---------------------------------------------------------------------------------------------
// Scrape and checks

/** The `crash_*` series of an exposition, by {@link seriesKey}. */
function parseScrape(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("crash_")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable sample line in the scrape: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] ?? ""] = pair[2] ?? "";
    out.set(seriesKey(m[1] ?? "", labels), Number(m[3]));
  }
  return out;
}

interface Checkpoint {
  label: string;
  /** Writes sent and unanswered when the gateway was killed (undefined: no kill before this scrape). */
  inFlightAtKill: number | undefined;
  /** Of the writes to the killed instance, how many got no 2xx (undefined: no kill before this scrape). */
  cut?: number;
  acked: Map<string, number>;
  stored: Map<string, number>;
  sent: Map<string, number>;
}

function merged(writers: Writer[], pick: (w: Writer) => Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const w of writers) for (const [k, v] of pick(w)) out.set(k, v);
  return out;
}

/**
 * One scrape, bracketed: acknowledgements counted before the request was sent must all be in it,
 * and it can hold nothing sent after its answer arrived. So acked <= stored <= sent holds exactly
 * even while the writers go on. Retries while the restarted gateway answers 503.
 */
async function scrape(instance: Instance, writers: Writer[]): Promise<Omit<Checkpoint, "label" | "inFlightAtKill">> {
  const deadline = Date.now() + SCRAPE_TIMEOUT_MS;
  let last = "";
  for (;;) {
    const acked = merged(writers, (w) => w.acked);
    try {
      const r = await fetch(`${instance.url}/metrics`, { signal: AbortSignal.timeout(15_000) });
      const text = await r.text();
      const sent = merged(writers, (w) => w.sent);
      if (r.status === 200) return { acked, stored: parseScrape(text), sent };
      last = `${r.status} ${text.slice(0, 300)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`instance ${instance.index}: GET /metrics gave no 200 within ${SCRAPE_TIMEOUT_MS / 1000} s (last: ${last}). Output:\n${instance.output()}`);
    await sleep(100);
  }
}

/**
 * What went wrong at a checkpoint, with the writes behind it: per series the figures, and the
 * writer's writes to it on the instances involved (the killed one and the one scraped), so a loss
 * or a double count can be tied to the kill and the writes around it. A deficit already reported
 * for a series is not repeated at later checkpoints (it stays the same unless something new happens).
 */
function checkpointProblems(cp: Checkpoint, writers: Writer[], instances: number[], reported: Map<string, string>): string[] {
  const problems: string[] = [];
  const keys = new Set([...cp.sent.keys(), ...cp.stored.keys()]);
  for (const key of [...keys].sort()) {
    const acked = cp.acked.get(key) ?? 0;
    const stored = cp.stored.get(key) ?? 0;
    const sent = cp.sent.get(key) ?? 0;
    if (acked <= stored && stored <= sent) continue;
    const what = stored < acked ? `LOST ${acked - stored} acknowledged` : `COUNTED TWICE: ${stored - sent} more than was ever sent`;
    if (reported.get(key) === what) continue;
    reported.set(key, what);
    const writer = writers.find((w) => Object.values(w.ops).some((op) => op.adds.some(([k]) => k === key)));
    const by = Object.values(writer?.ops ?? {}).flatMap((op) => op.adds).find(([k]) => k === key)?.[1] ?? 1;
    const writes = instances.map((i) => {
      const mine = (writer?.log ?? []).filter((e) => e.instance === i && writer?.ops[e.kind].adds.some(([k]) => k === key));
      const ok = mine.filter((e) => /^2\d\d$/.test(e.outcome)).length;
      const last = mine.slice(-6).map((e) => `#${e.seq} ${e.outcome}`).join(", ");
      return `instance ${i}: ${mine.length} writes, ${ok} acked${mine.length > 0 ? `, last ${last}` : ""}`;
    });
    problems.push(`${cp.label}: ${key} (+${by} per write, writer ${writer?.id ?? "?"}): acked ${acked}, stored ${stored}, sent ${sent}: ${what}. Its writes on ${writes.join("; ")}`);
  }
  for (const w of writers) {
    for (const p of atomicityProblems(w.id, cp.stored)) {
      if (reported.has(p)) continue;
      reported.set(p, p);
      problems.push(`${cp.label}: ${p}`);
    }
  }
  return problems;
}

/**
 * The table the test prints, one row per checkpoint, summed over the writers: per kind of write, in
 * writes (the first series of each write, e.g. `crash_push_total{kind="a"}`; the others are held to
 * it by the atomicity check), then every series in increments. Each cell is acked/stored/sent.
 * "fell": series lower than at the previous checkpoint (a value a scrape showed, gone after a kill:
 * never acknowledged, so no loss by the rule, but a counter reset to a reader).
 */
function table(checkpoints: Checkpoint[], writers: Writer[]): string {
  const kinds: [Kind, string][] = [
    ["patch", "PATCH"],
    ["push", "POST /metrics"],
    ["job", "POST /metrics/job"],
  ];
  const header = ["checkpoint", "in flight", "cut", ...kinds.map(([, title]) => title), `all ${writers.length * 6} series (increments)`, "stored-acked", "fell"];
  const rows: string[][] = [header];
  let previous: Map<string, number> | undefined;
  for (const cp of checkpoints) {
    const sum = (keys: string[]) => {
      const total = (m: Map<string, number>) => keys.reduce((n, k) => n + (m.get(k) ?? 0), 0);
      return { acked: total(cp.acked), stored: total(cp.stored), sent: total(cp.sent) };
    };
    const cell = (t: { acked: number; stored: number; sent: number }) => `${t.acked}/${t.stored}/${t.sent}`;
    const byKind = kinds.map(([kind]) => cell(sum(writers.map((w) => w.ops[kind].adds[0]?.[0] ?? ""))));
    const keys = [...new Set([...cp.sent.keys(), ...cp.stored.keys()])];
    const all = sum(keys);
    const prev = previous;
    const fell = prev === undefined ? 0 : keys.filter((k) => (cp.stored.get(k) ?? 0) < (prev.get(k) ?? 0)).length;
    rows.push([cp.label, cp.inFlightAtKill === undefined ? "-" : String(cp.inFlightAtKill), cp.cut === undefined ? "-" : String(cp.cut), ...byKind, cell(all), String(all.stored - all.acked), String(fell)]);
    previous = cp.stored;
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")).join("\n");
}

// ---------------------------------------------------------------------------------------------

it("kill -9 of wrangler dev under 8 concurrent writers, restarted on the same state each time, loses nothing acknowledged and counts nothing twice", async () => {
  const wall = Date.now();
  const problems: string[] = [];
  const checkpoints: Checkpoint[] = [];
  const perInstance: { started: number; acked: number; failed: Map<string, number>; readyMs?: number }[] = [];
  const rng = prng(SEED);
  const killDelays = Array.from({ length: KILLS_UNDER_LOAD }, () => Math.floor(rng() * MAX_KILL_DELAY_MS));
  const writers: Writer[] = Array.from({ length: WRITERS }, (_, id) => ({ id, ops: opsFor(id), sent: new Map(), acked: new Map(), inFlight: 0, log: [] }));
  /** Where the writers send: undefined while the gateway is down (they wait rather than spin). */
  const live: { instance: Instance | undefined; stopping: boolean } = { instance: undefined, stopping: false };
  resources.stopWriters = () => {
    live.stopping = true;
    live.instance = undefined;
  };
  let writing: Promise<unknown> = Promise.resolve();
  let failure: unknown;

  const runWriter = async (w: Writer): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    resources.agents.push(agent);
    const choose = prng(SEED + 1 + w.id);
    while (!live.stopping) {
      const target = live.instance;
      if (target === undefined) {
        await sleep(10);
        continue;
      }
      const r = choose();
      const op = r < 0.6 ? w.ops.patch : r < 0.8 ? w.ops.push : w.ops.job;
      const entry: Entry = { seq: w.log.length, instance: target.index, kind: op.kind, outcome: "in flight" };
      w.log.push(entry);
      const stats = perInstance[target.index];
      if (stats === undefined) throw new Error(`no stats for instance ${target.index}`);
      add(w.sent, op.adds); // counted before the first byte leaves: "sent" bounds what can have been applied
      stats.started++;
      w.inFlight++;
      entry.outcome = await send(agent, target.port, op);
      w.inFlight--;
      if (/^2\d\d$/.test(entry.outcome)) {
        add(w.acked, op.adds);
        stats.acked++;
      } else {
        stats.failed.set(entry.outcome, (stats.failed.get(entry.outcome) ?? 0) + 1);
        await sleep(20); // the gateway is down or struggling: do not spin
      }
    }
  };

  const failedOn = (index: number): number => [...(perInstance[index]?.failed.values() ?? [])].reduce((a, b) => a + b, 0);

  const start = async (setup: Setup, index: number): Promise<Instance> => {
    const stats: (typeof perInstance)[number] = { started: 0, acked: 0, failed: new Map() };
    perInstance[index] = stats;
    const began = Date.now();
    const instance = await startInstance(setup, index);
    stats.readyMs = Date.now() - began; // reported only: where the wall time goes on a loaded machine
    return instance;
  };

  const reported = new Map<string, string>();
  const check = async (instance: Instance, label: string, inFlightAtKill: number | undefined): Promise<Checkpoint> => {
    const cp: Checkpoint = { label, inFlightAtKill, ...(await scrape(instance, writers)) };
    checkpoints.push(cp);
    const involved = inFlightAtKill === undefined ? [instance.index] : [instance.index - 1, instance.index];
    problems.push(...checkpointProblems(cp, writers, involved, reported));
    return cp;
  };

  try {
    const setup = await setUp();
    let instance = await start(setup, 0);
    live.instance = instance;
    // Handled at once (a writer that throws must not be an unhandled rejection while the kills go on).
    writing = Promise.all(writers.map(runWriter)).catch((error: unknown) => {
      failure ??= error;
    });

    for (let k = 1; k <= KILLS_UNDER_LOAD; k++) {
      const stats = perInstance[instance.index];
      const progressDeadline = Date.now() + PROGRESS_TIMEOUT_MS;
      while ((stats?.acked ?? 0) < MIN_ACKS_BEFORE_KILL) {
        if (Date.now() > progressDeadline) {
          throw new Error(`instance ${instance.index} acknowledged ${stats?.acked ?? 0} writes in ${PROGRESS_TIMEOUT_MS / 1000} s (failures: ${JSON.stringify([...(stats?.failed ?? [])])}). Output:\n${instance.output()}`);
        }
        await sleep(10);
      }
      await sleep(killDelays[k - 1] ?? 0);
      // Answers that already arrived are taken first (the writers then send their next writes), so
      // "in flight" means sent and unanswered, not answered but not yet read by this process.
      await new Promise<void>((ok) => setImmediate(ok));
      const inFlight = writers.reduce((n, w) => n + w.inFlight, 0);
      const killed = instance;
      live.instance = undefined;
      await kill9(killed);
      instance = await start(setup, k);
      live.instance = instance;
      const cp = await check(instance, `kill ${k}`, inFlight);
      // Every write the killed instance took resolved by now (its connections died with it).
      cp.cut = failedOn(killed.index);
    }
    const cutting = checkpoints.filter((cp) => (cp.cut ?? 0) > 0).length;
    if (cutting < 3) problems.push(`only ${cutting} of ${KILLS_UNDER_LOAD} kills left a write unanswered: too few kills hit the gateway mid-write to prove anything`);

    // Writers stop; every request has its answer. A scrape now, then a kill with nothing in flight:
    // what the settled gateway showed must be exactly what comes back.
    live.stopping = true;
    await writing;
    const settled = await check(instance, "settled", undefined);
    await kill9(instance);
    const idle = KILLS_UNDER_LOAD + 1;
    instance = await start(setup, idle);
    const after = await check(instance, `kill ${idle} (idle)`, 0);
    for (const key of new Set([...settled.stored.keys(), ...after.stored.keys()])) {
      if (settled.stored.get(key) !== after.stored.get(key)) problems.push(`kill ${idle} (idle): ${key} was ${settled.stored.get(key) ?? 0} before, ${after.stored.get(key) ?? 0} after a kill with nothing in flight`);
    }
    await kill9(instance);

    // A test of nothing must not pass: every series was written and acknowledged.
    for (const w of writers) {
      for (const op of Object.values(w.ops)) for (const [key] of op.adds) if ((w.acked.get(key) ?? 0) === 0) problems.push(`${key} was never acknowledged: the run did not exercise it`);
    }
    // The bodies are valid: a 4xx is the gateway refusing a good write (e.g. a type conflict after a crash).
    perInstance.forEach((s, i) => {
      for (const [outcome, n] of s.failed) if (/^4\d\d$/.test(outcome)) problems.push(`instance ${i}: ${n} writes answered ${outcome}`);
    });
  } catch (error) {
    failure = error;
  } finally {
    live.stopping = true;
    live.instance = undefined;
  }
  await writing;

  const leftovers = await cleanup();
  const seconds = ((Date.now() - wall) / 1000).toFixed(1);
  const requests = perInstance
    .map((s, i) => `instance ${i} (ready after ${s.readyMs === undefined ? "-" : (s.readyMs / 1000).toFixed(1)} s): ${s.started} writes started, ${s.acked} acknowledged${s.failed.size > 0 ? `, not: ${[...s.failed].map(([o, n]) => `${n}x ${o}`).join(", ")}` : ""}`)
    .join("\n");
  console.log(`crash test: seed ${SEED}, ${WRITERS} writers, kill delays ${killDelays.join("/")} ms after ${MIN_ACKS_BEFORE_KILL} acks, ${seconds} s wall\n(cells: acked/stored/sent)\n${table(checkpoints, writers)}\n${requests}`);
  if (failure !== undefined) {
    if (leftovers.length > 0) console.error(`cleanup after the failure also failed:\n${leftovers.join("\n")}`);
    throw failure;
  }
  expect(problems).toEqual([]);
  expect(leftovers).toEqual([]);
  expect(checkpoints.length).toBe(KILLS_UNDER_LOAD + 2);
}, 150_000);
