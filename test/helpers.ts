/** Helpers shared by the workerd tests. */
import { exports } from "cloudflare:workers";

/**
 * The error an RPC call rejects with. Await the call inside try/catch: handing an RPC promise to
 * `expect(...).rejects` touches properties of the promise, which RPC turns into pipelined calls that
 * reject unhandled.
 */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

/** Removes the gateway's own metrics from an exposition, leaving what users pushed. */
export function withoutSelfMetrics(text: string): string {
  return text
    .split(/(?=# HELP )/)
    .filter((block) => !block.startsWith("# HELP metrics_gateway_"))
    .join("");
}

/** The scrape over RPC without the gateway's own metrics. */
export async function userScrape(format: "text" | "openmetrics" = "text"): Promise<string> {
  return withoutSelfMetrics(await exports.default.scrape({ format }));
}

/** The gateway's `metrics_gateway_write_calls_total`: Durable Object write calls so far. */
export async function writeCalls(): Promise<number> {
  return Number(/metrics_gateway_write_calls_total (\d+)/.exec(await exports.default.scrape())?.[1]);
}
