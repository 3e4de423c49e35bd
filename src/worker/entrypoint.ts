/** The default entrypoint: the typed RPC methods for sibling Workers, the HTTP API and the cron trigger. */
import { WorkerEntrypoint } from "cloudflare:workers";
import type { BatchResult, DeleteResult, Labels, MetricOp, MetricsGateway, PushOptions, PushResult, ScrapeOptions, WriteOptions } from "../../rpc";
import { GatewayError } from "../common/errors";
import { isEscapingScheme } from "../wire/exposition/escaping";
import { runExport } from "./export";
import { handleHttp } from "./http";
import { checkOptionsObject, Core, type PushTarget } from "./operations";
import { labelPairs } from "./rpc-writes";

/** The default entrypoint: `env.METRICS.inc(...)` over a service binding, or `env.METRICS.fetch(...)`. */
export default class Gateway extends WorkerEntrypoint<Env> implements MetricsGateway {
  #core = new Core(this.env, (promise) => this.ctx.waitUntil(promise));

  override async fetch(request: Request): Promise<Response> {
    return handleHttp(request, this.#core, this.env);
  }

  /** The cron trigger: remote write export of everything stored (see src/worker/export.ts). */
  override async scheduled(controller: ScheduledController): Promise<void> {
    await runExport(this.env, controller.scheduledTime);
  }

  async inc(name: string, labels?: Labels, value?: number, options?: WriteOptions): Promise<void> {
    await this.#core.inc(name, labels, value, options);
  }

  async set(name: string, labels: Labels | undefined, value: number, options?: WriteOptions): Promise<void> {
    await this.#core.set(name, labels, value, options);
  }

  async observe(name: string, labels: Labels | undefined, value: number, buckets?: number[], options?: WriteOptions): Promise<void> {
    await this.#core.observe(name, labels, value, buckets, options);
  }

  async batch(ops: MetricOp[]): Promise<BatchResult> {
    return this.#core.batch(ops);
  }

  async push(body: string, options?: PushOptions): Promise<PushResult> {
    if (typeof body !== "string") throw new GatewayError("BadRequest", `push(body): body must be a string of exposition text, got ${typeof body}`);
    const max = Number(this.env.MAX_BODY_BYTES);
    if (body.length > max) {
      // UTF-16 length is a lower bound of the UTF-8 size, so this never rejects a body under the limit.
      const error = new GatewayError("LimitExceeded", `push(body): the body is larger than the limit of ${max} bytes (MAX_BODY_BYTES); split the push`);
      this.#core.countRejected(error);
      throw error;
    }
    checkOptionsObject(options, "push(body, options): options", '{ group: { job: "nightly" } }');
    const mode = options?.mode ?? "aggregate";
    if (mode !== "aggregate" && mode !== "replace") {
      throw new GatewayError("BadRequest", `push(body, { mode: "${String(mode)}" }): use "aggregate" or "replace"`);
    }
    const target: PushTarget = { group: labelPairs(options?.group, "push(body, { group })"), mode };
    if (options?.ttlSeconds !== undefined) {
      if (typeof options.ttlSeconds !== "number") throw new GatewayError("BadRequest", `push(body, { ttlSeconds }): a number of seconds, got ${typeof options.ttlSeconds}`);
      target.ttlSeconds = options.ttlSeconds;
    }
    if (options?.source !== undefined) {
      if (typeof options.source !== "string") throw new GatewayError("BadRequest", `push(body, { source }): a string naming the process, got ${typeof options.source}`);
      target.source = options.source;
    }
    return this.#core.push(body, options?.contentType, target);
  }

  async deleteGroup(group: Labels): Promise<DeleteResult> {
    // A missing group must not read as {} (the ungrouped writes: all of them would go).
    if (group === undefined || group === null) {
      throw new GatewayError("BadRequest", 'deleteGroup(group): group is missing; pass the grouping key, e.g. { job: "nightly" } ({} deletes the ungrouped writes)');
    }
    return this.#core.deleteGroup(labelPairs(group, "deleteGroup(group)"));
  }

  async delete(name: string, labels?: Labels): Promise<DeleteResult> {
    return this.#core.delete(name, labels);
  }

  async scrape(options?: ScrapeOptions): Promise<string> {
    return this.#core.scrapeString(scrapeOptions(options));
  }

  async scrapeStream(options?: ScrapeOptions): Promise<ReadableStream<Uint8Array>> {
    const parts = await this.#core.scrape(scrapeOptions(options));
    const encoder = new TextEncoder();
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await parts.next();
        if (next.done === true) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
      async cancel() {
        await parts.return(undefined);
      },
    });
  }
}

/** RPC scrape options, checked: text and `underscores` by default, as an HTTP scrape gets them. */
function scrapeOptions(options: ScrapeOptions | undefined): { openmetrics: boolean; escaping: "allow-utf-8" | "underscores" | "dots" | "values" } {
  checkOptionsObject(options, "scrape(options): options", '{ format: "openmetrics" }');
  const format = options?.format ?? "text";
  if (format !== "text" && format !== "openmetrics") {
    throw new GatewayError("BadRequest", `scrape({ format: "${String(format)}" }): use "text" or "openmetrics"`);
  }
  const escaping = options?.escaping ?? "underscores";
  if (typeof escaping !== "string" || !isEscapingScheme(escaping)) {
    throw new GatewayError("BadRequest", `scrape({ escaping: "${String(escaping)}" }): use "underscores", "dots", "values" or "allow-utf-8"`);
  }
  return { openmetrics: format === "openmetrics", escaping };
}
