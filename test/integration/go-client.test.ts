/**
 * The real Go client (client_golang's `push` package, Debian's golang-github-prometheus-client-golang-dev,
 * built offline with Debian's Go) pushing to `wrangler dev`: Add, Add, Push, Add, Delete, with an
 * exact scrape after each step. The Go client sends delimited protobuf and encodes the grouping value
 * "a/b" as `instance@base64/YS9i`; a recording proxy in front of the gateway shows both.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METRICS_PROTO } from "../setup/protobuf";
import { freePort, requirePath, requirePeer, ROOT, startGateway, tempDir, type Server } from "./servers";

const GO_SOURCE = join(ROOT, "test/integration/go/main.go");
/** Where Debian's golang-*-dev packages put their sources (a GOPATH). */
const GOPATH = process.env.GOCODE_DIR ?? "/usr/share/gocode";
const CLIENT_GOLANG = join(GOPATH, "src/github.com/prometheus/client_golang/prometheus/push/push.go");
/** A cache, kept between runs like any other build output in node_modules/.cache. */
const CACHE = join(ROOT, "node_modules/.cache/metrics-gateway");
const PROTOBUF_DELIMITED = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
const GROUP_PATH = "/metrics/job/nightly/instance@base64/YS9i";

/**
 * Builds test/integration/go/main.go once per content of main.go, Go version and client_golang, in
 * GOPATH mode with no network (the brief's offline build), and returns the binary's path.
 */
function buildGoClient(): string {
  const go = requirePeer("go");
  requirePath(CLIENT_GOLANG, "golang-github-prometheus-client-golang-dev", "client_golang's push package");
  const version = spawnSync(go, ["version"], { encoding: "utf8" });
  if (version.error !== undefined || version.status !== 0) throw new Error(`${go} version failed: ${version.error?.message ?? version.stderr}`);
  const key = createHash("sha256").update(readFileSync(GO_SOURCE)).update(version.stdout).update(readFileSync(CLIENT_GOLANG)).digest("hex").slice(0, 16);
  const binary = join(CACHE, `go-client-${key}`);
  if (existsSync(binary)) return binary;
  mkdirSync(CACHE, { recursive: true });
  // Built beside its final name and renamed, so an interrupted build never leaves a broken binary.
  const partial = `${binary}.partial-${process.pid}`;
  const built = spawnSync(go, ["build", "-o", partial, "main.go"], {
    cwd: join(ROOT, "test/integration/go"),
    encoding: "utf8",
    env: {
      ...process.env,
      GO111MODULE: "off",
      GOPATH,
      GOPROXY: "off",
      GOFLAGS: "",
      CGO_ENABLED: "0",
      GOCACHE: join(CACHE, "go-build"),
      GOTMPDIR: tempDir("mg-gotmp-"),
    },
  });
  if (built.error !== undefined || built.status !== 0) {
    throw new Error(`go build of ${GO_SOURCE} failed (${built.error?.message ?? `exit ${String(built.status)}`}):\n${built.stdout}${built.stderr}`);
  }
  renameSync(partial, binary);
  return binary;
}

/** The Go program, driven one stdin line at a time; each command answers one stdout line. */
interface GoClient {
  step(command: string): Promise<void>;
  stop(): Promise<void>;
}

function startGoClient(binary: string, url: string): GoClient {
  const child: ChildProcessWithoutNullStreams = spawn(binary, [url, "nightly"], { stdio: "pipe" });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const waiting: ((line: string) => void)[] = [];
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else lines.push(line);
  });
  const ended = new Promise<string>((ok) => {
    child.once("error", (e) => ok(`could not start ${binary}: ${e.message}`));
    child.once("exit", (code, signal) => ok(`${binary} exited (${signal ?? `code ${String(code)}`})`));
  });
  return {
    async step(command) {
      child.stdin.write(`${command}\n`);
      const answer = await Promise.race([
        new Promise<string>((ok) => {
          const queued = lines.shift();
          if (queued !== undefined) ok(queued);
          else waiting.push(ok);
        }),
        ended.then((why) => `the Go client ended: ${why}\n${stderr}`),
      ]);
      // A failed step (e.g. the gateway answered 400) is the Go client's error text: show it as is.
      expect(answer, `Go client step "${command}"`).toBe("ok");
    },
    async stop() {
      child.stdin.end();
      await ended;
    },
  };
}

/** A request as it reached the gateway through the recording proxy. */
interface Seen {
  method: string;
  path: string;
  contentType: string | undefined;
  families: string[];
}

const MetricFamily = protobuf.parse(METRICS_PROTO, { keepCase: true }).root.lookupType("io.prometheus.client.MetricFamily");

/** The family names of a delimited protobuf body, decoded independently of the gateway. */
function familyNames(body: Buffer): string[] {
  const reader = protobuf.Reader.create(body);
  const names: string[] = [];
  while (reader.pos < reader.len) {
    const family = MetricFamily.toObject(MetricFamily.decodeDelimited(reader)) as { name?: string };
    names.push(family.name ?? "(no name)");
  }
  return names;
}

/** Forwards every request to `target` unchanged and records what the client sent. */
async function startRecordingProxy(target: string): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: HttpServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const contentType = req.headers["content-type"];
      const method = req.method ?? "GET";
      // An undecodable body is recorded, not thrown: a throw here would escape the test as an
      // unhandled error, while a record fails the exact comparison of what was sent.
      let families: string[] = [];
      try {
        if (contentType === PROTOBUF_DELIMITED) families = familyNames(body);
      } catch (e) {
        families = [`undecodable body (${String(e)}): ${body.toString("hex")}`];
      }
      seen.push({ method, path: req.url ?? "", contentType, families });
      const headers: Record<string, string> = {};
      if (contentType !== undefined) headers["content-type"] = contentType;
      fetch(`${target}${req.url ?? ""}`, { method, headers, ...(body.length > 0 ? { body } : {}) })
        .then(async (answer) => {
          res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "text/plain" });
          res.end(Buffer.from(await answer.arrayBuffer()));
        })
        .catch((e: unknown) => {
          // The Go client then reports a 502 as its step's error, which fails the test.
          res.writeHead(502);
          res.end(`proxy: ${String(e)}`);
        });
    });
  });
  const port = await freePort();
  await new Promise<void>((ok) => server.listen(port, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

/** What a scrape says about the pushed families, with the group's push time taken out. */
interface Scrape {
  /** Every family except the gateway's own, verbatim, with push_time_seconds's value as `<time>`. */
  text: string;
  /** push_time_seconds of the group, in ms, when present. */
  pushTimeMs: number | undefined;
  /** metrics_gateway_families and metrics_gateway_series. */
  stored: [number, number];
}

async function scrape(gateway: Server): Promise<Scrape> {
  const response = await fetch(`${gateway.url}/metrics`);
  const body = await response.text();
  expect(response.status, body).toBe(200);
  let pushTimeMs: number | undefined;
  const stored: [number, number] = [Number.NaN, Number.NaN];
  const kept: string[] = [];
  for (const block of body.split(/(?=^# HELP )/m)) {
    const name = /^# HELP (\S+)/.exec(block)?.[1] ?? "";
    if (name === "metrics_gateway_families") stored[0] = Number(/^metrics_gateway_families (\S+)$/m.exec(block)?.[1]);
    if (name === "metrics_gateway_series") stored[1] = Number(/^metrics_gateway_series (\S+)$/m.exec(block)?.[1]);
    if (name.startsWith("metrics_gateway_")) continue; // the gateway's own metrics have their own tests
    kept.push(
      block.replace(/^(push_time_seconds\{instance="a\/b",job="nightly"\}) (\S+)$/m, (_line, series: string, value: string) => {
        pushTimeMs = Math.round(Number(value) * 1000);
        return `${series} <time>`;
      }),
    );
  }
  return { text: kept.join(""), pushTimeMs, stored };
}

const PUSH_TIMES = `# HELP push_failure_time_seconds Last Unix time when changing this group failed.
# TYPE push_failure_time_seconds gauge
push_failure_time_seconds{instance="a/b",job="nightly"} 0
# HELP push_time_seconds Last Unix time when changing this group succeeded.
# TYPE push_time_seconds gauge
push_time_seconds{instance="a/b",job="nightly"} <time>
`;

describe("Go client (client_golang push)", () => {
  let gateway: Server;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let client: GoClient;

  beforeAll(async () => {
    gateway = await startGateway(tempDir("mg-go-"));
    proxy = await startRecordingProxy(gateway.url);
  });
  afterAll(async () => {
    await client?.stop();
    await proxy?.close();
    await gateway?.stop();
  });

  /** Runs one command and returns the scrape after it, checking the group's push time is this step's. */
  async function stepAndScrape(command: string): Promise<Scrape> {
    const before = Date.now();
    await client.step(command);
    const after = Date.now();
    const result = await scrape(gateway);
    if (result.pushTimeMs !== undefined) {
      // The gateway stamps the push when it applies it: within this step, never an older push's time.
      expect(result.pushTimeMs).toBeGreaterThanOrEqual(before);
      expect(result.pushTimeMs).toBeLessThanOrEqual(after);
    }
    return result;
  }

  it("Add aggregates, Push replaces the group, Delete removes it; every scrape exact", async () => {
    // In the test, not in a hook: a machine without Go or client_golang fails this test, naming the package.
    client = startGoClient(buildGoClient(), proxy.url);
    for (const command of ["inc a 2", "inc b 1", "set 21.5", "observe 0.0625", "observe 0.25", "observe 1", "observe 4"]) await client.step(command);

    // Add (POST): the group holds the client's values.
    const first = await stepAndScrape("add");
    expect(first.text).toBe(`# HELP go_jobs_total Jobs run.
# TYPE go_jobs_total counter
go_jobs_total{instance="a/b",job="nightly",kind="a"} 2
go_jobs_total{instance="a/b",job="nightly",kind="b"} 1
# HELP go_latency_seconds Latency.
# TYPE go_latency_seconds histogram
go_latency_seconds_bucket{instance="a/b",job="nightly",le="0.1"} 1
go_latency_seconds_bucket{instance="a/b",job="nightly",le="0.5"} 2
go_latency_seconds_bucket{instance="a/b",job="nightly",le="2"} 3
go_latency_seconds_bucket{instance="a/b",job="nightly",le="+Inf"} 4
go_latency_seconds_sum{instance="a/b",job="nightly"} 5.3125
go_latency_seconds_count{instance="a/b",job="nightly"} 4
# HELP go_rpc_seconds RPC latency.
# TYPE go_rpc_seconds summary
go_rpc_seconds{instance="a/b",job="nightly",quantile="0.5"} 0.25
go_rpc_seconds{instance="a/b",job="nightly",quantile="0.9"} 4
go_rpc_seconds_sum{instance="a/b",job="nightly"} 5.3125
go_rpc_seconds_count{instance="a/b",job="nightly"} 4
# HELP go_temperature_celsius Temperature.
# TYPE go_temperature_celsius gauge
go_temperature_celsius{instance="a/b",job="nightly"} 21.5
${PUSH_TIMES}`);
    expect(first.pushTimeMs).toBeDefined();
    expect(first.stored).toEqual([4, 5]);

    // Add again with the same values: counters, buckets, _sum and _count doubled; the gauge and the
    // quantiles replaced (by the same values).
    const second = await stepAndScrape("add");
    expect(second.text).toBe(`# HELP go_jobs_total Jobs run.
# TYPE go_jobs_total counter
go_jobs_total{instance="a/b",job="nightly",kind="a"} 4
go_jobs_total{instance="a/b",job="nightly",kind="b"} 2
# HELP go_latency_seconds Latency.
# TYPE go_latency_seconds histogram
go_latency_seconds_bucket{instance="a/b",job="nightly",le="0.1"} 2
go_latency_seconds_bucket{instance="a/b",job="nightly",le="0.5"} 4
go_latency_seconds_bucket{instance="a/b",job="nightly",le="2"} 6
go_latency_seconds_bucket{instance="a/b",job="nightly",le="+Inf"} 8
go_latency_seconds_sum{instance="a/b",job="nightly"} 10.625
go_latency_seconds_count{instance="a/b",job="nightly"} 8
# HELP go_rpc_seconds RPC latency.
# TYPE go_rpc_seconds summary
go_rpc_seconds{instance="a/b",job="nightly",quantile="0.5"} 0.25
go_rpc_seconds{instance="a/b",job="nightly",quantile="0.9"} 4
go_rpc_seconds_sum{instance="a/b",job="nightly"} 10.625
go_rpc_seconds_count{instance="a/b",job="nightly"} 8
# HELP go_temperature_celsius Temperature.
# TYPE go_temperature_celsius gauge
go_temperature_celsius{instance="a/b",job="nightly"} 21.5
${PUSH_TIMES}`);
    expect(second.stored).toEqual([4, 5]);

    // The client forgets kind="a", counts kind="c", sets the gauge, observes once more; Push (PUT)
    // makes the group exactly the client's state: kind="a" and the doubled values are gone.
    for (const command of ["forget a", "inc c 3", "set 30", "observe 0.375"]) await client.step(command);
    const replaced = await stepAndScrape("push");
    expect(replaced.text).toBe(`# HELP go_jobs_total Jobs run.
# TYPE go_jobs_total counter
go_jobs_total{instance="a/b",job="nightly",kind="b"} 1
go_jobs_total{instance="a/b",job="nightly",kind="c"} 3
# HELP go_latency_seconds Latency.
# TYPE go_latency_seconds histogram
go_latency_seconds_bucket{instance="a/b",job="nightly",le="0.1"} 1
go_latency_seconds_bucket{instance="a/b",job="nightly",le="0.5"} 3
go_latency_seconds_bucket{instance="a/b",job="nightly",le="2"} 4
go_latency_seconds_bucket{instance="a/b",job="nightly",le="+Inf"} 5
go_latency_seconds_sum{instance="a/b",job="nightly"} 5.6875
go_latency_seconds_count{instance="a/b",job="nightly"} 5
# HELP go_rpc_seconds RPC latency.
# TYPE go_rpc_seconds summary
go_rpc_seconds{instance="a/b",job="nightly",quantile="0.5"} 0.375
go_rpc_seconds{instance="a/b",job="nightly",quantile="0.9"} 4
go_rpc_seconds_sum{instance="a/b",job="nightly"} 5.6875
go_rpc_seconds_count{instance="a/b",job="nightly"} 5
# HELP go_temperature_celsius Temperature.
# TYPE go_temperature_celsius gauge
go_temperature_celsius{instance="a/b",job="nightly"} 30
${PUSH_TIMES}`);
    expect(replaced.stored).toEqual([4, 5]);

    // Add after Push: aggregated onto what Push left.
    const added = await stepAndScrape("add");
    expect(added.text).toBe(`# HELP go_jobs_total Jobs run.
# TYPE go_jobs_total counter
go_jobs_total{instance="a/b",job="nightly",kind="b"} 2
go_jobs_total{instance="a/b",job="nightly",kind="c"} 6
# HELP go_latency_seconds Latency.
# TYPE go_latency_seconds histogram
go_latency_seconds_bucket{instance="a/b",job="nightly",le="0.1"} 2
go_latency_seconds_bucket{instance="a/b",job="nightly",le="0.5"} 6
go_latency_seconds_bucket{instance="a/b",job="nightly",le="2"} 8
go_latency_seconds_bucket{instance="a/b",job="nightly",le="+Inf"} 10
go_latency_seconds_sum{instance="a/b",job="nightly"} 11.375
go_latency_seconds_count{instance="a/b",job="nightly"} 10
# HELP go_rpc_seconds RPC latency.
# TYPE go_rpc_seconds summary
go_rpc_seconds{instance="a/b",job="nightly",quantile="0.5"} 0.375
go_rpc_seconds{instance="a/b",job="nightly",quantile="0.9"} 4
go_rpc_seconds_sum{instance="a/b",job="nightly"} 11.375
go_rpc_seconds_count{instance="a/b",job="nightly"} 10
# HELP go_temperature_celsius Temperature.
# TYPE go_temperature_celsius gauge
go_temperature_celsius{instance="a/b",job="nightly"} 30
${PUSH_TIMES}`);
    expect(added.stored).toEqual([4, 5]);

    // Delete (the Go client insists on 202): the group and its push times are gone.
    const deleted = await stepAndScrape("delete");
    expect(deleted.text).toBe("");
    expect(deleted.pushTimeMs).toBeUndefined();
    expect(deleted.stored).toEqual([0, 0]);

    // What the client sent: delimited protobuf of its four families (sorted by name, as Gather
    // returns them) to the base64-encoded grouping path; Delete has no body.
    const families = ["go_jobs_total", "go_latency_seconds", "go_rpc_seconds", "go_temperature_celsius"];
    const pushed = (method: string): Seen => ({ method, path: GROUP_PATH, contentType: PROTOBUF_DELIMITED, families });
    expect(proxy.seen).toEqual([pushed("POST"), pushed("POST"), pushed("PUT"), pushed("POST"), { method: "DELETE", path: GROUP_PATH, contentType: undefined, families: [] }]);
  });
});
