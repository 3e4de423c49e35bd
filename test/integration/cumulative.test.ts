/**
 * Cumulative sources end to end: `wrangler dev` with `SOURCE_LABEL=instance`, and three real Node
 * processes instrumented with prom-client (test/integration/fixtures/cumulative-child.mjs) that
 * push their registry every 200 ms under `groupings: { instance: "p<i>" }` for about 10 s (p0 and
 * p1 with `pushAdd`, a POST; p2 with `push`, a PUT: both are a source's totals),
 * and are restarted (SIGTERM, then a new process whose counters start from 0) two or more times.
 *
 * The gateway must add only each source's increase since its previous push, and a process's whole
 * value when it restarted, into one series per family without the `instance` label. Checked: a
 * scrape every ~100 ms never sees the aggregate go down, and at the end (every life made its final
 * push of its final totals) the counter, every histogram bucket, sum and count, and the summary's
 * sum and count equal exactly
 * what all lives of all processes incremented and observed, as they report it. Midway the gateway
 * is killed (SIGKILL to wrangler and workerd) and restarted on the same state and port; the
 * processes retry the pushes that failed meanwhile (safe for cumulative totals), and the totals must
 * still be exact: a restart neither loses an increase nor counts one twice. Then a DELETE naming a
 * source forgets its last values and keeps the aggregate.
 *
 * The schedule (lives' lengths, increments) is seeded: CUMULATIVE_SEED=<n> replays another.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { sampleLines, scrapeText, sleep } from "./prom-helpers";
import { ROOT, startBundledGateway, tempDir, type BundledGateway } from "./servers";
import { prng } from "../prng";

const SEED = Number(process.env.CUMULATIVE_SEED ?? 20261202);
const INSTANCES = 3;
/** Each process keeps being restarted until its lives add up to this. */
const RUN_MS = 10_000;
/** A life lasts between these (so every process has at least three lives: two restarts or more). */
const LIFE_MS: [number, number] = [2_000, 4_500];
const PUSH_EVERY_MS = 200;
const INC_EVERY_MS = 25;
const SCRAPE_EVERY_MS = 100;
/** When the gateway is killed and restarted, after the processes started (only a moment mid-run; never asserted on). */
const CRASH_AT_MS = 5_000;
const JOB = "cum";
/** The histogram's buckets (the child's) and the values it observes, by the bucket each falls in. */
const BUCKETS = ["0.25", "1", "4", "+Inf"];
const OBSERVED = [0.125, 0.5, 2, 8];
/** Give-up limits (failures with a message, not speed assertions). */
const CHILD_START_MS = 20_000;
const CHILD_EXIT_MS = 20_000;

const CHILD = join(ROOT, "test/integration/fixtures/cumulative-child.mjs");
/** prom-client's call each process pushes with: POST (`pushAdd`) or PUT (`push`). */
type PushMethod = "pushAdd" | "push";
const METHODS: readonly PushMethod[] = ["pushAdd", "pushAdd", "push"];

/** What a life reports on stdout when it ends. */
interface Totals {
  increments: number;
  /** Observations per observed value. */
  observed: Record<string, number>;
}
interface Report extends Totals {
  instance: string;
  pid: number;
  pushes: number;
  /** Pushes that failed while the gateway was down and were sent again. */
  retries: number;
  /** What the life's first push held (work done before it). */
  initial: Totals;
}

/** The values of the series a push of `t` holds: the counter, the cumulative buckets, _sum, _count. */
function pushed(t: Totals): { name: string; value: number }[] {
  const n = (v: number) => t.observed[String(v)] ?? 0;
  return [
    { name: "cum_jobs_total", value: t.increments },
    ...BUCKETS.map((le, b) => ({ name: `cum_job_seconds_bucket{le="${le}"}`, value: OBSERVED.slice(0, b + 1).reduce((a, v) => a + n(v), 0) })),
    { name: "cum_job_seconds_sum", value: OBSERVED.reduce((a, v) => a + v * n(v), 0) },
    { name: "cum_job_seconds_count", value: OBSERVED.reduce((a, v) => a + n(v), 0) },
  ];
  // The summary observes what the histogram does: its _sum and _count are the histogram's.
}

const children = new Set<ChildProcess>();
let gateway: BundledGateway | undefined;
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  await gateway?.stop();
});

/** Fails with a message when a line does not arrive in time or the process ends first. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`gave up after ${ms / 1000} s waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One life: a new child process; resolves `started` once its first push was acknowledged, `report` when it ended after SIGTERM. */
function startLife(url: string, instance: string, seed: number, tmp: string, method: PushMethod): { child: ChildProcess; started: Promise<void>; report: Promise<Report> } {
  const child = spawn(process.execPath, [CHILD], {
    cwd: ROOT,
    env: { ...process.env, GATEWAY: url, JOB, INSTANCE: instance, SEED: String(seed), PUSH_EVERY_MS: String(PUSH_EVERY_MS), INC_EVERY_MS: String(INC_EVERY_MS), TMPDIR: tmp, PUSH_METHOD: method },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  let onStarted: () => void = () => undefined;
  const started = new Promise<void>((ok) => (onStarted = ok));
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('"started"')) onStarted();
  });
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const report = new Promise<Report>((ok, fail) => {
    child.once("error", (e) => fail(new Error(`${instance}: ${process.execPath} could not be started: ${e.message}`)));
    child.once("exit", (code, signal) => {
      children.delete(child);
      const line = stdout.split("\n").find((l) => l.includes('"increments"'));
      if (code === 0 && line !== undefined) ok(JSON.parse(line) as Report);
      else fail(new Error(`${instance} (pid ${child.pid}) ended with ${signal ?? `code ${String(code)}`} without its report.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });
  // A life that dies before it started fails `started` too (no 20 s wait).
  return { child, started: Promise.race([started, report.then(() => undefined)]), report };
}

/** The `cum_*` sample lines of a scrape, by series (everything before the value). */
function cumSeries(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of sampleLines(text)) {
    if (!line.startsWith("cum_")) continue;
    const space = line.lastIndexOf(" ");
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

it("three prom-client processes restarted mid-run, and the gateway killed and restarted, add up exactly; the aggregate never goes down and has no instance label", async () => {
  try {
    accessSync(join(ROOT, "node_modules/prom-client/package.json"), constants.R_OK);
  } catch {
    throw new Error(`prom-client is not installed in ${ROOT}/node_modules: run \`npm ci\` in ${ROOT}`);
  }
  const wall = Date.now();
  const state = tempDir("mg-cumulative-");
  const vars = { SOURCE_LABEL: "instance" };
  gateway = await startBundledGateway(state, vars);
  const { url, port } = gateway;
  const tmp = tempDir("mg-cumulative-tmp-");
  const rng = prng(SEED);
  const schedules = Array.from({ length: INSTANCES }, () => {
    const lives: number[] = [];
    for (let total = 0; total < RUN_MS; ) {
      const ms = Math.round(LIFE_MS[0] + rng() * (LIFE_MS[1] - LIFE_MS[0]));
      lives.push(ms);
      total += ms;
    }
    return lives;
  });

  // The scraper: every ~100 ms, until the processes are done. While the gateway is being restarted
  // (and for a scrape sent before it came back) a failed scrape is expected and skipped.
  const problems: string[] = [];
  let scraping = true;
  let scrapes = 0;
  let nonEmpty = 0;
  let unavailable = 0;
  const restart = { running: false, generation: 0 };
  const scraper = (async () => {
    let previous = new Map<string, number>();
    while (scraping) {
      const current = gateway as BundledGateway;
      const during = restart.running;
      const generation = restart.generation;
      let text: string;
      try {
        ({ text } = await scrapeText(current));
      } catch (error) {
        if (during || restart.running || generation !== restart.generation) unavailable++;
        else problems.push(`a scrape failed while the gateway was up: ${error instanceof Error ? error.message : String(error)}`);
        await sleep(SCRAPE_EVERY_MS);
        continue;
      }
      const now = cumSeries(text);
      scrapes++;
      if (now.size > 0) nonEmpty++;
      for (const [series, value] of previous) {
        // A summary's quantile is replaced by each push (README), not accumulated: it may go down.
        if (series.includes("quantile=")) continue;
        const v = now.get(series);
        if (v === undefined) problems.push(`scrape ${scrapes}: ${series} (${value} before) is gone`);
        else if (v < value) problems.push(`scrape ${scrapes}${generation > 0 ? " (after the restart)" : ""}: ${series} went down from ${value} to ${v}`);
      }
      for (const series of now.keys()) if (series.includes("instance=")) problems.push(`scrape ${scrapes}: ${series} has an instance label`);
      previous = now;
      await sleep(SCRAPE_EVERY_MS);
    }
  })();

  // The crash: mid-run, while the processes push.
  let restartedMs = 0;
  const crash = (async () => {
    await sleep(CRASH_AT_MS);
    restart.running = true;
    const began = Date.now();
    try {
      await (gateway as BundledGateway).kill9();
      gateway = await startBundledGateway(state, vars, { port });
    } finally {
      restart.generation++;
      restart.running = false;
    }
    restartedMs = Date.now() - began;
  })();

  const reports: Report[][] = schedules.map(() => []);
  const runInstance = async (i: number): Promise<void> => {
    const instance = `p${i}`;
    for (const [life, ms] of (schedules[i] ?? []).entries()) {
      const { child, started, report } = startLife(url, instance, SEED * 100 + i * 10 + life, tmp, METHODS[i] ?? "pushAdd");
      await withTimeout(started, CHILD_START_MS, `${instance} life ${life} (pid ${child.pid}) to push its zero state`);
      await sleep(ms);
      child.kill("SIGTERM");
      reports[i]?.push(await withTimeout(report, CHILD_EXIT_MS, `${instance} life ${life} (pid ${child.pid}) to push its final totals and exit`));
    }
  };
  try {
    await Promise.all([...schedules.map((_, i) => runInstance(i)), crash]);
  } finally {
    scraping = false;
    await scraper;
    await crash.catch(() => undefined);
  }

  // A restart is known to the gateway only by a value lower than the source's previous one: each
  // life's first push must be lower than the previous life's last for every series that was not
  // 0 (else the aggregate would rightly not equal the sum of the lives). With lives of 2 s or more
  // and 1 to 4 units of work before the first push this holds; checked so it is never assumed.
  for (const [i, rs] of reports.entries()) {
    for (let life = 1; life < rs.length; life++) {
      const before = pushed(rs[life - 1] as Report);
      const first = pushed((rs[life] as Report).initial);
      for (const [k, { name, value }] of first.entries()) {
        const last = before[k]?.value ?? 0;
        if (last > 0 && value >= last) throw new Error(`p${i} life ${life}: its first push had ${name} ${value}, not below the previous life's last ${last}: no restart the gateway could see (the schedule is at fault, not the gateway); try another CUMULATIVE_SEED`);
      }
    }
  }

  // Every life's final push is acknowledged: the aggregate is now exactly what all lives did.
  const all = reports.flat();
  const totals = all.map(pushed);
  const total = (k: number) => totals.reduce((a, t) => a + (t[k]?.value ?? 0), 0);
  const increments = total(0);
  const sum = total(1 + BUCKETS.length);
  const count = total(2 + BUCKETS.length);
  const final = await scrapeText(gateway);
  const expected = [
    ...BUCKETS.map((le, b) => `cum_job_seconds_bucket{job="${JOB}",le="${le}"} ${total(1 + b)}`),
    `cum_job_seconds_sum{job="${JOB}"} ${sum}`,
    `cum_job_seconds_count{job="${JOB}"} ${count}`,
    `cum_jobs_total{job="${JOB}"} ${increments}`,
    `cum_task_seconds_sum{job="${JOB}"} ${sum}`,
    `cum_task_seconds_count{job="${JOB}"} ${count}`,
  ];
  /** The `cum_*` lines of a scrape; the summary's quantile (the latest push's, whichever source's) checked apart. */
  const cumLines = (text: string): string[] => {
    const lines = sampleLines(text).filter((l) => l.startsWith("cum_"));
    const quantile = lines.filter((l) => l.startsWith("cum_task_seconds{"));
    expect(quantile).toHaveLength(1);
    const m = /^cum_task_seconds\{job="cum",quantile="0\.5"\} (\S+)$/.exec(quantile[0] ?? "");
    expect(m, quantile[0]).not.toBeNull();
    const q = Number(m?.[1]);
    expect(q >= 0.125 && q <= 8, `median ${q} within the observed values`).toBe(true);
    return lines.filter((l) => !l.startsWith("cum_task_seconds{"));
  };
  const lives = all.length;
  const retries = all.reduce((n, r) => n + r.retries, 0);
  const summary = `${INSTANCES} processes, ${lives} lives (${lives - INSTANCES} restarts): ${increments} increments, ${count} observations summing to ${sum}, ${all.reduce((n, r) => n + r.pushes, 0)} pushes; the gateway killed at ${CRASH_AT_MS} ms and answering again ${restartedMs} ms later, ${retries} push attempts retried meanwhile; ${scrapes} scrapes (${nonEmpty} with the series, ${unavailable} more failed during the restart), ${problems.length} problems`;
  console.log(
    `cumulative: seed ${SEED}, ${summary}\n${reports.map((rs, i) => `p${i} (${METHODS[i] ?? "pushAdd"}): lives of ${schedules[i]?.join("/")} ms; increments ${rs.map((r) => `${r.increments} (first push ${r.initial.increments})`).join(" + ")}, pushes ${rs.map((r) => r.pushes).join("/")}, retries ${rs.map((r) => r.retries).join("/")}`).join("\n")}\ngateway: ${sampleLines(final.text).filter((l) => l.startsWith("cum_jobs_total")).join("")}`,
  );
  expect(problems).toEqual([]);
  expect(cumLines(final.text)).toEqual(expected);
  for (const [i, rs] of reports.entries()) expect(rs.length, `p${i}'s lives`).toBeGreaterThanOrEqual(3);
  // The crash hit pushes (else it proved nothing about them).
  expect(retries, "push attempts that failed during the restart and were retried").toBeGreaterThan(0);
  expect(nonEmpty, "scrapes that saw the series while the processes ran").toBeGreaterThanOrEqual(10);
  // One group, without the source label.
  const groups = (await (await fetch(`${url}/api/v1/metrics`)).json()) as { data: { labels: Record<string, string> }[] };
  expect(groups.data.map((g) => g.labels).filter((l) => Object.keys(l).length > 0)).toEqual([{ job: JOB }]);

  // DELETE naming a source forgets its last values; the aggregate keeps what it counted.
  const p0Last = reports[0]?.at(-1)?.increments ?? 0;
  const p1Last = reports[1]?.at(-1)?.increments ?? 0;
  const deleted = await fetch(`${url}/metrics/job/${JOB}/instance/p0`, { method: "DELETE" });
  expect(`${deleted.status} ${JSON.stringify(await deleted.json())}`).toBe('202 {"deleted":0}');
  expect(cumLines((await scrapeText(gateway)).text)).toEqual(expected);
  // p0 pushes 5 more than its last total: forgotten, so all of it counts. p1 does the same: it
  // was not forgotten, so only the 5 count.
  const pushCounter = async (instance: string, value: number) => {
    const r = await fetch(`${url}/metrics/job/${JOB}/instance/${instance}`, { method: "POST", body: `# TYPE cum_jobs_total counter\ncum_jobs_total ${value}\n` });
    expect(r.status).toBe(200);
    await r.body?.cancel();
  };
  await pushCounter("p0", p0Last + 5);
  await pushCounter("p1", p1Last + 5);
  expect(cumLines((await scrapeText(gateway)).text)).toEqual(expected.map((l) => (l.startsWith("cum_jobs_total") ? `cum_jobs_total{job="${JOB}"} ${increments + p0Last + 5 + 5}` : l)));
  console.log(`cumulative: after DELETE of p0 (last total ${p0Last}) and pushes of ${p0Last + 5} (p0) and ${p1Last + 5} (p1, last ${p1Last}): ${increments} + ${p0Last + 5} + 5; ${((Date.now() - wall) / 1000).toFixed(1)} s`);
}, 90_000);
