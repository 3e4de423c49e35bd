/**
 * Sends encoded remote-write requests: snappy block compression, the spec's headers, bounded
 * concurrency, and retries (5xx, 429, network errors) with exponential backoff, jitter and
 * `Retry-After`, all within a time budget.
 */
import { compress } from "snappyjs";
import { USER_AGENT } from "../../common/version";
import type { EncodedBatch } from "./write-request";

export interface SendConfig {
  endpoint: string;
  /** Basic auth with `token` as the password when set (Grafana Cloud: the instance id). */
  user: string | undefined;
  /** Basic auth password with `user`, else a Bearer token. */
  token: string | undefined;
  /** Requests in flight at once. */
  concurrency: number;
  /** Time for the whole run, retries included, in ms. */
  budgetMs: number;
}

/** The parts of the environment `send` uses, injectable for tests. */
export interface SendDeps {
  fetch: (request: Request) => Promise<Response>;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  random: () => number;
}

/** Outcomes of single HTTP attempts. */
export type AttemptOutcome = "success" | "client_error" | "server_error" | "rate_limited" | "network_error";

export interface SendResult {
  /** Every batch was accepted. */
  ok: boolean;
  samplesSent: number;
  samplesFailed: number;
  attempts: Record<AttemptOutcome, number>;
  retries: number;
}

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 8_000;

/** The headers remote write 1.0 requires, plus authentication. */
export function remoteWriteHeaders(config: Pick<SendConfig, "user" | "token">): Headers {
  const headers = new Headers({
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": USER_AGENT,
  });
  const { user, token } = config;
  if (user !== undefined && user !== "") headers.set("Authorization", `Basic ${btoa(`${user}:${token ?? ""}`)}`);
  else if (token !== undefined && token !== "") headers.set("Authorization", `Bearer ${token}`);
  return headers;
}

/**
 * Sends every batch, at most `concurrency` at a time. A batch is retried on 5xx, 429 and network
 * errors until it succeeds or the budget would be exceeded; any other 4xx is final and its body is
 * logged verbatim. Never throws.
 */
export async function sendBatches(batches: readonly EncodedBatch[], config: SendConfig, deps: SendDeps): Promise<SendResult> {
  const sender = new BatchSender(config, deps);
  for (const batch of batches) await sender.submit(batch);
  return sender.finish();
}

/**
 * Sends batches as they are encoded, at most `concurrency` in flight: {@link submit} resolves once
 * the batch is under way and there is room for the next, so the caller encodes no further ahead
 * than that (memory stays bounded however much is exported). Same retries and budget as
 * {@link sendBatches}; never throws.
 */
export class BatchSender {
  readonly #config: SendConfig;
  readonly #deps: SendDeps;
  readonly #deadline: number;
  readonly #headers: Headers;
  readonly #inFlight = new Set<Promise<void>>();
  readonly result: SendResult = {
    ok: true,
    samplesSent: 0,
    samplesFailed: 0,
    attempts: { success: 0, client_error: 0, server_error: 0, rate_limited: 0, network_error: 0 },
    retries: 0,
  };

  constructor(config: SendConfig, deps: SendDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#deadline = deps.now() + config.budgetMs;
    this.#headers = remoteWriteHeaders(config);
  }

  async submit(batch: EncodedBatch): Promise<void> {
    while (this.#inFlight.size >= Math.max(1, this.#config.concurrency)) await Promise.race(this.#inFlight);
    const sending = this.#send(batch).finally(() => this.#inFlight.delete(sending));
    this.#inFlight.add(sending);
  }

  async finish(): Promise<SendResult> {
    await Promise.all(this.#inFlight);
    return this.result;
  }

  async #send(batch: EncodedBatch): Promise<void> {
    const result = this.result;
    // A batch not started before the deadline is not started at all: the run must end in time.
    const sent = this.#deps.now() < this.#deadline && (await sendOne(compress(batch.body), this.#config.endpoint, this.#headers, this.#deadline, this.#deps, result));
    if (sent) result.samplesSent += batch.samples;
    else {
      result.ok = false;
      result.samplesFailed += batch.samples;
    }
  }
}

async function sendOne(body: Uint8Array, endpoint: string, headers: Headers, deadline: number, deps: SendDeps, result: SendResult): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    let outcome: AttemptOutcome;
    let retryAfter: number | undefined;
    let detail: string;
    try {
      // A receiver that does not answer is cut off at the deadline, not waited for.
      const signal = AbortSignal.timeout(Math.max(1, deadline - deps.now()));
      const response = await deps.fetch(new Request(endpoint, { method: "POST", headers, body, signal }));
      if (response.status >= 200 && response.status < 300) {
        await response.body?.cancel();
        result.attempts.success++;
        return true;
      }
      const text = redactText(await response.text().catch(() => ""), endpoint);
      detail = `HTTP ${response.status}: ${text}`;
      if (response.status === 429 || response.status >= 500) {
        outcome = response.status === 429 ? "rate_limited" : "server_error";
        retryAfter = parseRetryAfter(response.headers.get("retry-after"), deps.now());
      } else {
        result.attempts.client_error++;
        console.error(`remote write: ${redactEndpoint(endpoint)} rejected a request with HTTP ${response.status}, not retrying: ${text}`);
        return false;
      }
    } catch (error) {
      outcome = "network_error";
      // A fetch error's message may quote the URL, and endpoints often carry credentials.
      detail = `network error: ${redactText(error instanceof Error ? error.message : String(error), endpoint)}`;
    }
    result.attempts[outcome]++;
    const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt);
    // Jitter over the upper half keeps retries of concurrent batches apart; Retry-After can only
    // lengthen the wait (a "Retry-After: 0" must not turn retries into a busy loop).
    const wait = Math.max(retryAfter ?? 0, backoff / 2 + deps.random() * (backoff / 2));
    if (deps.now() + wait > deadline) {
      console.error(`remote write: giving up on a request after ${attempt + 1} attempts (time budget spent); last: ${detail}`);
      return false;
    }
    result.retries++;
    await deps.sleep(wait);
  }
}

/** `Retry-After` as ms from now: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * An endpoint as logs, errors and status pages may show it: scheme and host only. Endpoints often
 * carry credentials in their path, query or user info (Grafana Cloud's do not, others' do).
 *
 * @example redactEndpoint("https://user:pw@prom.example.com/api/v1/push?token=x") // "https://prom.example.com"
 */
export function redactEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}`;
  } catch {
    return "(an endpoint that is not a URL)";
  }
}

/**
 * `text` with every occurrence of the endpoint replaced by its redacted form, and of anything of it
 * that may be a credential: the path and query (whole, without `?`, or decoded), each query
 * parameter and value, long path segments, the user and password. A receiver's error message often
 * quotes the request it refused.
 */
export function redactText(text: string, endpoint: string): string {
  let out = text.split(endpoint).join(redactEndpoint(endpoint));
  try {
    const url = new URL(endpoint);
    const secrets = new Set<string>([url.pathname + url.search, url.search, url.search.slice(1), url.pathname, url.username, url.password]);
    for (const [name, value] of url.searchParams) {
      secrets.add(`${name}=${value}`);
      if (value.length >= 4) secrets.add(value);
    }
    for (const segment of url.pathname.split("/")) if (segment.length >= 8) secrets.add(segment);
    for (const secret of [...secrets]) secrets.add(safeDecode(secret));
    for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
      if (secret.length > 1) out = out.split(secret).join("…");
    }
  } catch {
    // Not a URL: nothing more to find.
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
