/** The default entrypoint: the typed RPC methods for sibling Workers, the HTTP API and the cron trigger. */
import { WorkerEntrypoint } from "cloudflare:workers";
import type { BatchResult, DeleteResult, Labels, MetricOp, MetricsGateway, PushOptions, PushResult, ScrapeOptions } from "../../rpc";
import { Core, labelPairs } from "./operations";
import { GatewayError } from "../common/errors";
import { runExport } from "./export";
import { handleHttp } from "./http";

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

  async inc(name: string, labels?: Labels, value?: number): Promise<void> {
    await this.#core.inc(name, labels, value);
  }

  async set(name: string, labels: Labels | undefined, value: number): Promise<void> {
    await this.#core.set(name, labels, value);
  }

  async observe(name: string, labels: Labels | undefined, value: number, buckets?: number[]): Promise<void> {
    await this.#core.observe(name, labels, value, buckets);
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
    const mode = options?.mode ?? "aggregate";
    if (mode !== "aggregate" && mode !== "replace") {
      throw new GatewayError("BadRequest", `push(body, { mode: "${String(mode)}" }): use "aggregate" or "replace"`);
    }
    const group = labelPairs(options?.group);
    return this.#core.push(body, options?.contentType, { group, mode });
  }

  async deleteGroup(group: Labels): Promise<DeleteResult> {
    return this.#core.deleteGroup(labelPairs(group));
  }

  async delete(name: string, labels?: Labels): Promise<DeleteResult> {
    return this.#core.delete(name, labels);
  }

  async scrape(options?: ScrapeOptions): Promise<string> {
    const format = options?.format ?? "text";
    if (format !== "text" && format !== "openmetrics") {
      throw new GatewayError("BadRequest", `scrape({ format: "${String(format)}" }): use "text" or "openmetrics"`);
    }
    return (await this.#core.scrape(format)).join("");
  }
}
