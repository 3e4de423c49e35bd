/** Starts real servers for integration tests: `wrangler dev` and Prometheus, on 127.0.0.1 only. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");

export interface Server {
  url: string;
  port: number;
  stop(): Promise<void>;
  output(): string;
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

function start(command: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  let log = "";
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  return { child, output: () => log };
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
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

/**
 * `wrangler dev` of this project with its state in `persistTo`, as `npm start` runs it. With
 * `configs`, those wrangler configs are served together in one process, the first one answering.
 */
export async function startGateway(persistTo: string, vars: Record<string, string> = {}, configs: string[] = [], ready = "/-/healthy"): Promise<Server> {
  const port = await freePort();
  const args = ["dev", ...configs.flatMap((c) => ["-c", c]), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persistTo, "--log-level", "warn", "--inspector-port", String(await freePort())];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const { child, output } = start(join(ROOT, "node_modules/.bin/wrangler"), args);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}${ready}`, "wrangler dev", output);
  return { url, port, stop: () => stopGroup(child), output };
}

/** Prometheus from the Debian package, scraping `targets` every second, with remote write receiving on. */
export async function startPrometheus(targets: string[]): Promise<Server> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "mg-prom-"));
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
  const { child, output } = start(process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus", [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--web.enable-remote-write-receiver",
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/-/ready`, "prometheus", output);
  return { url, port, stop: () => stopGroup(child), output };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
