/**
 * Pins the RPC contract: the entrypoint implements `rpc/`'s interface exactly. Type-level only: this
 * file is never run; `tsc -p tsconfig.json` (in `npm test`'s check, which includes test/) fails when
 * an assertion does not hold, so it is not counted as a runtime test.
 */
import { expectTypeOf } from "vitest";
import type { BatchResult, DeleteResult, Labels, MetricOp, MetricsBinding, MetricsGateway, PushOptions, PushResult, ScrapeOptions } from "../../rpc";
import type Gateway from "../../src/worker/entrypoint";

// The default entrypoint implements the contract.
expectTypeOf<Gateway>().toExtend<MetricsGateway>();

// The documented signatures.
expectTypeOf<MetricsGateway["inc"]>().toEqualTypeOf<(name: string, labels?: Labels, value?: number) => Promise<void>>();
expectTypeOf<MetricsGateway["set"]>().toEqualTypeOf<(name: string, labels: Labels | undefined, value: number) => Promise<void>>();
expectTypeOf<MetricsGateway["observe"]>().toEqualTypeOf<(name: string, labels: Labels | undefined, value: number, buckets?: number[]) => Promise<void>>();
expectTypeOf<MetricsGateway["push"]>().toEqualTypeOf<(body: string, options?: PushOptions) => Promise<PushResult>>();
expectTypeOf<MetricsGateway["delete"]>().toEqualTypeOf<(name: string, labels?: Labels) => Promise<DeleteResult>>();
expectTypeOf<MetricsGateway["batch"]>().toEqualTypeOf<(ops: MetricOp[]) => Promise<BatchResult>>();
expectTypeOf<MetricsGateway["deleteGroup"]>().toEqualTypeOf<(group: Labels) => Promise<DeleteResult>>();
expectTypeOf<MetricsGateway["scrape"]>().toEqualTypeOf<(options?: ScrapeOptions) => Promise<string>>();
expectTypeOf<PushResult>().toEqualTypeOf<{ families: number; series: number }>();
expectTypeOf<MetricsBinding["fetch"]>().returns.toEqualTypeOf<Promise<Response>>();
