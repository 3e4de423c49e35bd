/**
 * Starts real servers for integration tests: `wrangler dev` and Prometheus, on 127.0.0.1 only, and
 * checks that every peer a test starts is installed before the test relies on it.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { afterAll } from "vitest";

export const ROOT = resolve(import.meta.dirname, "../..");

/**
 * The peers the integration tests start, where Debian installs them, and the package that does.
 * Each path can be overridden with its environment variable (e.g. to try a test without the peer).
 */
export const PEERS = {
  prometheus: { path: process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus", env: "PROMETHEUS_BIN", package: "prometheus" },
  promtool: { path: process.env.PROMTOOL_BIN ?? "/usr/bin/promtool", env: "PROMTOOL_BIN", package: "prometheus" },
  python: { path: process.env.PYTHON_BIN ?? "/usr/bin/python3", env: "PYTHON_BIN", package: "python3-prometheus-client" },
  chromium: { path: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium", env: "CHROMIUM_BIN", package: "chromium" },
  go: { path: process.env.GO_BIN ?? "/usr/bin/go", env: "GO_BIN", package: "golang-go" },
} as const;

export type Peer = keyof typeof PEERS;

export interface Server {
  url: string;
  port: number;
  stop(): Promise<void>;
  output(): string;
}

/** What to tell a person whose machine lacks `pkg`. */
function installHint(pkg: string): string {
  return `install it with \`apt-get install -y ${pkg}\` (bash .ci/run installs every peer the tests need)`;
}

/**
 * Fails the calling test at once, with a message naming the binary and its Debian package, when
 * `path` (absolute, or a name looked up in PATH) is not an executable file. Call it before starting
 * a peer: otherwise a missing peer is an unhandled ENOENT, a 60 s wait, or a check that passes
 * because it never ran. Returns the executable's path.
 */
export function requireBinary(path: string, pkg: string, env?: string): string {
  const candidates = path.includes("/") ? [path] : (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "").map((d) => join(d, path));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  const where = path.includes("/") ? `${path} does not exist or is not executable` : `${path} is not in PATH (${process.env.PATH ?? ""})`;
  const override = env === undefined ? "" : ` or set ${env} to its path`;
  throw new Error(`missing peer: ${where}; ${installHint(pkg)}${override}`);
}

/** `requireBinary` for one of the known peers. */
export function requirePeer(peer: Peer): string {
  const { path, package: pkg, env } = PEERS[peer];
  return requireBinary(path, pkg, env);
}

/**
 * Fails the calling test when `python` cannot import `module` (Debian's python3-* packages install
 * into /usr/bin/python3's dist-packages, which another python3 in PATH does not see).
 */
export function requirePythonModule(module: string, pkg: string): string {
  const python = requirePeer("python");
  const result = spawnSync(python, ["-c", `import ${module}`], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0) {
    const why = result.error?.message ?? result.stderr.trim().split("\n").pop() ?? `exit status ${String(result.status)}`;
    throw new Error(`missing peer: ${python} cannot import ${module} (${why}); ${installHint(pkg)}`);
  }
  return python;
}

/** Fails the calling test when `path` (e.g. a library's sources) is not readable. */
export function requirePath(path: string, pkg: string, what: string): string {
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new Error(`missing peer: ${what} (${path}) is not installed; ${installHint(pkg)}`);
  }
  return path;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      srv.close(() => ok(port));
    });
  });
}

/** A started peer: its output, and why it ended if it did (a spawn error such as ENOENT, or an exit). */
interface Started {
  child: ChildProcess;
  output: () => string;
  ended: Promise<string>;
}

function start(command: string, args: string[], env: Record<string, string> = {}): Started {
  let log = "";
  const child = spawn(command, args, {
    cwd: ROOT,
    // TMPDIR: wrangler and workerd write their scratch files (miniflare-*) into a directory this
    // file's cleanup removes, so a run leaves nothing in /tmp even when a child is killed.
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", TMPDIR: tempDir("mg-tmp-"), ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  // Without an 'error' listener a failed spawn is an uncaught exception that ends the whole run.
  const ended = new Promise<string>((ok) => {
    child.once("error", (e) => ok(`${command} could not be started: ${e.message}`));
    child.once("exit", (code, signal) => ok(`${command} exited (${signal ?? `code ${String(code)}`})`));
  });
  return { child, output: () => log, ended };
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  try {
    // The whole process group: wrangler leaves workerd behind otherwise.
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-(child.pid ?? 0), "SIGKILL");
    } catch {
      // already gone
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

export async function waitFor(url: string, what: string, output: () => string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not come up at ${url}:\n${output()}`);
}

/** `waitFor`, but a peer that ends before it is ready fails at once, with its output. */
async function waitForStarted(url: string, what: string, started: Started): Promise<void> {
  const ended = started.ended.then((why) => {
    throw new Error(`${what} ended before it answered ${url}: ${why}\n${started.output()}`);
  });
  // Promise.race handles both outcomes, so stopping the peer later is no unhandled rejection.
  await Promise.race([waitFor(url, what, started.output), ended]);
}

/**
 * `wrangler dev` of this project with its state in `persistTo`, as `npm start` runs it. With
 * `configs`, those wrangler configs are served together in one process, the first one answering.
 */
export async function startGateway(persistTo: string, vars: Record<string, string> = {}, configs: string[] = [], ready = "/-/healthy"): Promise<Server> {
  const wrangler = join(ROOT, "node_modules/.bin/wrangler");
  try {
    accessSync(wrangler, constants.X_OK);
  } catch {
    throw new Error(`${wrangler} is missing: run \`npm ci\` in ${ROOT}`);
  }
  const port = await freePort();
  const args = ["dev", ...configs.flatMap((c) => ["-c", c]), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persistTo, "--log-level", "warn", "--inspector-port", String(await freePort())];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const started = start(wrangler, args);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForStarted(`${url}${ready}`, "wrangler dev", started);
  } catch (e) {
    await stopGroup(started.child);
    throw e;
  }
  return { url, port, stop: () => stopGroup(started.child), output: started.output };
}

/** A gateway from {@link startBundledGateway}: also killable like a crash. */
export interface BundledGateway extends Server {
  /** SIGKILL to wrangler and workerd at once (the whole process group); resolves once none of them runs. */
  kill9(): Promise<void>;
}

let bundle: Promise<{ dir: string; config: string; index: string; env: Record<string, string> }> | undefined;

/**
 * The gateway bundled once per test file (a `wrangler deploy --dry-run` of the tree as it is then),
 * with a copy of the project's wrangler.toml in a temp dir (main pointing back at the source).
 */
async function gatewayBundle(wrangler: string): NonNullable<typeof bundle> {
  // Built again if its temp dir went (removed after a file that shares this module's instance).
  if (bundle !== undefined && !existsSync((await bundle.catch(() => ({ index: "" }))).index)) bundle = undefined;
  bundle ??= (async () => {
    const dir = tempDir("mg-bundle-");
    const source = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
    const main = /^main\s*=\s*"([^"]+)"/m.exec(source)?.[1];
    if (main === undefined) throw new Error(`${join(ROOT, "wrangler.toml")} has no main = "..." line: cannot find the gateway's entry point`);
    const config = join(dir, "wrangler.toml");
    writeFileSync(config, source.replace(/^main\s*=.*$/m, `main = ${JSON.stringify(resolve(ROOT, main))}`));
    const env = {
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_HIDE_BANNER: "true",
      WRANGLER_REGISTRY_PATH: join(dir, "registry"),
      WRANGLER_LOG_PATH: join(dir, "logs"),
    };
    const dist = join(dir, "dist");
    await new Promise<void>((ok, fail) => {
      execFile(wrangler, ["deploy", "--dry-run", "--outdir", dist, "-c", config], { cwd: dir, env: { ...process.env, ...env, TMPDIR: tempDir("mg-tmp-") }, timeout: 120_000 }, (error, stdout, stderr) => {
        if (error === null) ok();
        else fail(new Error(`cannot bundle the gateway: wrangler deploy --dry-run exited with ${String(error.code ?? error.signal)}:\n${stderr || stdout}`));
      });
    });
    return { dir, config, index: join(dist, "index.js"), env };
  })();
  return bundle;
}

/** A process of a process group, from /proc. */
export interface GroupProc {
  pid: number;
  comm: string;
  /** As /proc says: Z (a zombie: dead, waiting to be reaped) and X (dead) no longer run. */
  state: string;
}

/** Every process whose process group is `pgid`, from /proc (zombies included, marked by state Z). */
export function groupMembers(pgid: number): GroupProc[] {
  const out: GroupProc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
    const close = stat.lastIndexOf(")");
    const [state = "?", , pgrp = ""] = stat.slice(close + 2).split(" ");
    if (Number(pgrp) === pgid) out.push({ pid: Number(entry), comm: stat.slice(stat.indexOf("(") + 1, close), state });
  }
  return out;
}

/** Whether a process of {@link groupMembers} still runs. */
export const running = (p: GroupProc): boolean => p.state !== "Z" && p.state !== "X";

/** Processes whose process group is `pgid` and that still run. */
function groupRunning(pgid: number): number[] {
  return groupMembers(pgid)
    .filter(running)
    .map((p) => p.pid);
}

/**
 * `startGateway`, but of a bundle of src/ built once per test file and served with `--no-bundle`:
 * other engineers edit src/ in this shared tree, and `wrangler dev` of the source hot-reloads on
 * every save, which restarts the Durable Objects mid-test (their in-memory counters go back to 0).
 * The copied config keeps `.wrangler/tmp`, the dev registry (WRANGLER_REGISTRY_PATH: no sibling
 * Worker of another test finds this gateway), wrangler's logs and a developer's `.dev.vars` in the
 * test's temp dirs; WRANGLER_HIDE_BANNER skips wrangler's update check (a request to the npm
 * registry), so the gateway talks to 127.0.0.1 only. `port` reuses a port (a restart on the same
 * address); by default a free one.
 */
export async function startBundledGateway(persistTo: string, vars: Record<string, string> = {}, options: { port?: number } = {}): Promise<BundledGateway> {
  const wrangler = join(ROOT, "node_modules/.bin/wrangler");
  try {
    accessSync(wrangler, constants.X_OK);
  } catch {
    throw new Error(`${wrangler} is missing: run \`npm ci\` in ${ROOT}`);
  }
  const { config, index, env } = await gatewayBundle(wrangler);
  const port = options.port ?? (await freePort());
  const args = ["dev", index, "--no-bundle", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persistTo, "--log-level", "warn", "--inspector-port", String(await freePort())];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const started = start(wrangler, args, env);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForStarted(`${url}/-/ready`, "wrangler dev", started);
  } catch (e) {
    await stopGroup(started.child);
    throw e;
  }
  const kill9 = async () => {
    const pgid = started.child.pid;
    if (pgid === undefined || started.child.exitCode !== null || started.child.signalCode !== null) return;
    const exited = new Promise<void>((ok) => started.child.once("exit", () => ok()));
    process.kill(-pgid, "SIGKILL");
    await exited;
    for (let i = 0; groupRunning(pgid).length > 0; i++) {
      if (i > 500) throw new Error(`wrangler dev's process group ${pgid} still runs ${groupRunning(pgid).join(", ")} 10 s after SIGKILL`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { url, port, stop: () => stopGroup(started.child), output: started.output, kill9 };
}

/** Prometheus from the Debian package, scraping `targets` every second, with remote write receiving on. */
export async function startPrometheus(targets: string[]): Promise<Server> {
  const prometheus = requirePeer("prometheus");
  const port = await freePort();
  const dir = tempDir("mg-prom-");
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "scrape_configs:",
      "  - job_name: gateway",
      "    honor_labels: true",
      "    static_configs:",
      `      - targets: [${targets.map((t) => `"${t}"`).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const started = start(prometheus, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--web.enable-remote-write-receiver",
  ]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForStarted(`${url}/-/ready`, "prometheus", started);
  } catch (e) {
    await stopGroup(started.child);
    throw e;
  }
  return { url, port, stop: () => stopGroup(started.child), output: started.output };
}

const created = new Set<string>();

/**
 * A fresh directory under the system temp dir. It lives until the end of the test file that made
 * it (a gateway restarted on the same state needs it across tests), then it is removed.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.add(dir);
  return dir;
}

// Registered when a test file imports this module, so it belongs to that file's top-level suite;
// vitest runs after-hooks in reverse order, so this runs after the file's own afterAll stopped
// its servers.
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  created.clear();
});
