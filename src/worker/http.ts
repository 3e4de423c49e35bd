/** The HTTP API: routes, content negotiation, and the one place errors become responses. */
import type { Labels, PushResult } from "../../rpc";
import { GatewayError, statusOf } from "../common/errors";
import { labelKey } from "../common/labels";
import { drain, readBytes, readText } from "../wire/body";
import { negotiateExposition } from "../wire/exposition/negotiate";
import { parseGroupingPath } from "../wire/grouping";
import { apiStatus, pushgatewayMetrics } from "./api";
import type { Core, PushTarget } from "./operations";
import { groupsOf } from "./reads";
import { shardsToRead } from "./shards";
import { statusPage } from "./status-page";

/** Answers one HTTP request; every error becomes a JSON body `{ error, message }` with its status. */
export async function handleHttp(request: Request, core: Core, env: Env): Promise<Response> {
  try {
    return await route(request, core, env);
  } catch (error) {
    await drain(request.bodyUsed ? null : request.body);
    return errorResponse(error);
  }
}

async function route(request: Request, core: Core, env: Env): Promise<Response> {
  const maxBodyBytes = Number(env.MAX_BODY_BYTES);
  const url = new URL(request.url);
  const path = url.pathname;
  const method = request.method;

  if (path === "/-/healthy") {
    allow(method, ["GET", "HEAD"]);
    return text("OK\n");
  }
  if (path === "/-/ready") {
    allow(method, ["GET", "HEAD"]);
    await core.ready();
    return text("OK\n");
  }
  if (path === "/metrics" || path === "/metrics/") {
    allow(method, ["GET", "HEAD", "POST"]);
    if (method === "POST") return json(await push(request, core, maxBodyBytes, { group: [], mode: "aggregate" }));
    return scrape(request, url, core);
  }
  if (path.startsWith("/metrics/job/") || path.startsWith("/metrics/job@base64/")) {
    allow(method, ["PUT", "POST", "DELETE"]);
    const group = parseGroupingPath(path.slice("/metrics/".length));
    if (method === "DELETE") return json(await core.deleteGroup(group), 202);
    return json(await push(request, core, maxBodyBytes, { group, mode: method === "PUT" ? "replace" : "aggregate" }));
  }
  if (path === "/api/v1/metrics") {
    allow(method, ["GET", "HEAD"]);
    const shards = await shardsToRead(env);
    const groups = await groupsOf(env, shards);
    const headers = { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" };
    if (method === "HEAD") return new Response(null, { headers });
    return new Response(stream(pushgatewayMetrics(env, shards, groups)), { headers });
  }
  if (path === "/api/v1/status") {
    allow(method, ["GET", "HEAD"]);
    return json(apiStatus(await core.status(), env));
  }
  if (path === "/api/v1/admin/wipe") {
    allow(method, ["PUT"]);
    await core.delete("__all", undefined);
    return new Response(null, { status: 202 });
  }
  if (path === "/") {
    allow(method, ["GET", "HEAD"]);
    return new Response(statusPage(await core.status(), env), {
      headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" },
    });
  }
  const one = /^\/metrics\/([^/]+)$/.exec(path);
  if (one !== null) {
    const name = decodeSegment(one[1] ?? "");
    const labels = queryLabels(url);
    if (name === "__all") {
      allow(method, ["DELETE"]);
      if (Object.keys(labels).length > 0) {
        throw new GatewayError("BadRequest", "DELETE /metrics/__all takes no labels; use DELETE /metrics/<name>?label=value to filter");
      }
      return json(await core.delete("__all", undefined));
    }
    allow(method, ["PATCH", "DELETE"]);
    if (method === "DELETE") return json(await core.delete(name, labels));
    let options: { ttlSeconds: number } | undefined;
    try {
      if (request.headers.has("metrics-source")) {
        throw new GatewayError("BadRequest", `PATCH /metrics/${name} adds an increment, and Metrics-Source names a process that pushes totals; push the totals with POST /metrics (or PUT|POST /metrics/job/...) instead`);
      }
      const ttl = request.headers.get("metrics-ttl");
      if (ttl !== null) options = { ttlSeconds: ttlHeader(ttl) };
    } catch (error) {
      core.countRejected(error, "");
      throw error;
    }
    const by = (await readText(request, maxBodyBytes)).trim();
    const value = by === "" ? 1 : Number(by);
    if (by !== "" && !/^[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(by)) {
      throw new GatewayError("InvalidValue", `PATCH /metrics/${name}: body "${by.slice(0, 40)}" is not a number; send an empty body to add 1, or a number >= 0 to add it`);
    }
    await core.inc(name, labels, value, options);
    return new Response(null, { status: 204 });
  }
  throw new GatewayError(
    "NotFound",
    `no route for ${path}; see GET /metrics, POST /metrics, PATCH|DELETE /metrics/<name>, PUT|POST|DELETE /metrics/job/<job>{/<label>/<value>}, GET /`,
  );
}

/** Reads and applies a push body; a failure also counts against the group. */
async function push(request: Request, core: Core, maxBodyBytes: number, target: PushTarget): Promise<PushResult> {
  const contentType = request.headers.get("content-type") ?? undefined;
  const full: PushTarget = { ...target };
  try {
    const ttl = request.headers.get("metrics-ttl");
    if (ttl !== null) full.ttlSeconds = ttlHeader(ttl);
    const source = request.headers.get("metrics-source");
    if (source !== null) full.source = source.trim();
  } catch (error) {
    core.countRejected(error, labelKey(target.group));
    throw error;
  }
  const body = await readBytes(request, maxBodyBytes).catch((error: unknown) => {
    core.countRejected(error, labelKey(target.group));
    throw error;
  });
  return core.push(body, contentType, full);
}

/** `Metrics-TTL: <seconds>`: a non-negative decimal number (0: never expire). */
function ttlHeader(value: string): number {
  const v = value.trim();
  if (!/^\d+(\.\d+)?$/.test(v)) throw new GatewayError("BadRequest", `Metrics-TTL: "${v.slice(0, 40)}" is not a number of seconds; send e.g. "Metrics-TTL: 3600" (0: never expire)`);
  return Number(v);
}

async function scrape(request: Request, url: URL, core: Core): Promise<Response> {
  const chosen = negotiateExposition(request.headers.get("accept"), url.searchParams.get("format"), url.searchParams.get("escaping"));
  const headers = new Headers({ "Content-Type": chosen.contentType, Vary: "Accept, Accept-Encoding", "Cache-Control": "no-store" });
  if (request.method === "HEAD") return new Response(null, { headers });
  // The first parts are read before answering, so a shard that fails makes a 503, not a cut stream.
  const parts = await core.scrape({ openmetrics: chosen.format === "openmetrics", escaping: chosen.escaping });
  const first = await parts.next();
  if (accepts(clientAcceptEncoding(request), "gzip")) {
    // The runtime compresses the body itself for this header (encodeBody "automatic"), and decodes
    // it again for a client that turns out not to accept gzip (as Cloudflare's edge does).
    headers.set("Content-Encoding", "gzip");
  }
  return new Response(stream(parts, first.done === true ? undefined : first.value), { headers });
}

/**
 * Streams parts as they are produced: each pull takes the next part from the generator (which
 * reads the shards' next pages as needed), so memory holds a few parts, never the whole body.
 */
function stream(parts: AsyncGenerator<string>, first?: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let pending = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending !== undefined) {
        controller.enqueue(encoder.encode(pending));
        pending = undefined;
        return;
      }
      try {
        const next = await parts.next();
        if (next.done === true) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      } catch (error) {
        // Headers are sent: the client sees a cut body (a broken scrape), never a partial success.
        console.error("a streamed read failed", error);
        controller.error(error);
      }
    },
    async cancel() {
      await parts.return(undefined);
    },
  });
}

/**
 * What the client itself accepts. Cloudflare (and `wrangler dev`) rewrite Accept-Encoding to
 * "br, gzip" before the Worker sees it and keep the client's own value in `cf.clientAcceptEncoding`
 * ("" when it sent none); through a service binding the header arrives as sent.
 */
function clientAcceptEncoding(request: Request): string | null {
  const original: unknown = request.cf?.clientAcceptEncoding;
  return typeof original === "string" ? original : request.headers.get("accept-encoding");
}

function accepts(header: string | null, coding: string): boolean {
  if (header === null) return false;
  return header.split(",").some((part) => {
    const [name = "", ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    return name === coding && !params.some((p) => /^q\s*=\s*0(\.0*)?$/.test(p));
  });
}

/** Query parameters as labels; a label given twice is ambiguous and rejected. */
function queryLabels(url: URL): Labels {
  const labels: Labels = {};
  for (const [name, value] of url.searchParams) {
    if (Object.hasOwn(labels, name)) throw new GatewayError("BadRequest", `label "${name}" is given twice in the query string; give each label once`);
    labels[name] = value;
  }
  return labels;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError("BadRequest", `path segment "${segment}" is not valid percent-encoding`);
  }
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw Object.assign(new GatewayError("MethodNotAllowed", `${method} is not allowed here; allowed: ${methods.join(", ")}`), {
      allow: methods.join(", "),
    });
  }
}

/** The one mapping from thrown errors to responses. */
export function errorResponse(error: unknown): Response {
  const status = statusOf(error);
  const name = error instanceof Error ? error.name : "Error";
  const message = status === 500 ? "internal error (logged by the gateway); retry the request" : error instanceof Error ? error.message : String(error);
  if (status === 500) console.error("unhandled error", error);
  const headers: Record<string, string> = {};
  if (error instanceof Error && "allow" in error && typeof error.allow === "string") headers.Allow = error.allow;
  return json({ error: status === 500 ? "InternalError" : name, message }, status, headers);
}

function json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(`${JSON.stringify(value)}\n`, {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

function text(body: string): Response {
  return new Response(body, { headers: { "Content-Type": "text/plain; charset=utf-8" } });
}
