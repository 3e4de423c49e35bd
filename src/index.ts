/** metrics-gateway's Worker module: the entrypoint (RPC, HTTP, cron) and the Durable Object classes it binds. */
export { default } from "./worker/entrypoint";
export { Aggregator } from "./aggregator/aggregator";
export { TypeRegistry } from "./aggregator/registry";
