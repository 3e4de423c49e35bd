/** Pins the RPC contract: the entrypoint implements `rpc/`'s interface exactly (checked by tsc in `npm test`). */
import { describe, expectTypeOf, it } from "vitest";
import type { BatchResult, DeleteResult, Labels, MetricOp, MetricsBinding, MetricsGateway, PushOptions, PushResult, ScrapeOptions } from "../rpc";
import type Gateway from "../src/worker/entrypoint";

describe("rpc contract", () => {
  it("is implemented by the default entrypoint", () => {
    expectTypeOf<Gateway>().toExtend<MetricsGateway>();
  });

  it("has the documented signatures", () => {
    expectTypeOf<MetricsGateway["inc"]>().toEqualTypeOf<(name: string, labels?: Labels, value?: number) => Promise<void>>();
    expectTypeOf<MetricsGateway["set"]>().toEqualTypeOf<(name: string, labels: Labels | undefined, value: number) => Promise<void>>();
    expectTypeOf<MetricsGateway["observe"]>().toEqualTypeOf<
      (name: string, labels: Labels | undefined, value: number, buckets?: number[]) => Promise<void>
    >();
    expectTypeOf<MetricsGateway["push"]>().toEqualTypeOf<(body: string, options?: PushOptions) => Promise<PushResult>>();
    expectTypeOf<MetricsGateway["delete"]>().toEqualTypeOf<(name: string, labels?: Labels) => Promise<DeleteResult>>();
    expectTypeOf<MetricsGateway["batch"]>().toEqualTypeOf<(ops: MetricOp[]) => Promise<BatchResult>>();
    expectTypeOf<MetricsGateway["deleteGroup"]>().toEqualTypeOf<(group: Labels) => Promise<DeleteResult>>();
    expectTypeOf<MetricsGateway["scrape"]>().toEqualTypeOf<(options?: ScrapeOptions) => Promise<string>>();
    expectTypeOf<PushResult>().toEqualTypeOf<{ families: number; series: number }>();
    expectTypeOf<MetricsBinding["fetch"]>().returns.toEqualTypeOf<Promise<Response>>();
  });
});
