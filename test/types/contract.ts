/**
 * Pins the RPC contract: the entrypoint implements `rpc/`'s interface exactly. Type-level only: this
 * file is never run; `tsc -p tsconfig.json` (in `npm test`'s check, which includes test/) fails when
 * an assertion does not hold, so it is not counted as a runtime test. A deliberate change of the
 * contract changes these pins with it.
 */
import { expectTypeOf } from "vitest";
import type {
  BatchResult,
  DeleteResult,
  Labels,
  MetricOp,
  MetricsBinding,
  MetricsGateway,
  PushOptions,
  PushResult,
  ScrapeOptions,
  WriteOptions,
} from "../../rpc";
import { metrics, type Metrics } from "../../rpc/client";
import type Gateway from "../../src/worker/entrypoint";

// The default entrypoint implements the contract.
expectTypeOf<Gateway>().toExtend<MetricsGateway>();

// Exactly these methods: one added or removed is a contract change.
expectTypeOf<keyof MetricsGateway>().toEqualTypeOf<"inc" | "set" | "observe" | "batch" | "push" | "delete" | "deleteGroup" | "scrape" | "scrapeStream">();

// The documented signatures.
expectTypeOf<MetricsGateway["inc"]>().toEqualTypeOf<(name: string, labels?: Labels, value?: number, options?: WriteOptions) => Promise<void>>();
expectTypeOf<MetricsGateway["set"]>().toEqualTypeOf<(name: string, labels: Labels | undefined, value: number, options?: WriteOptions) => Promise<void>>();
expectTypeOf<MetricsGateway["observe"]>().toEqualTypeOf<
  (name: string, labels: Labels | undefined, value: number, buckets?: number[], options?: WriteOptions) => Promise<void>
>();
expectTypeOf<MetricsGateway["push"]>().toEqualTypeOf<(body: string, options?: PushOptions) => Promise<PushResult>>();
expectTypeOf<MetricsGateway["delete"]>().toEqualTypeOf<(name: string, labels?: Labels) => Promise<DeleteResult>>();
expectTypeOf<MetricsGateway["batch"]>().toEqualTypeOf<(ops: MetricOp[]) => Promise<BatchResult>>();
expectTypeOf<MetricsGateway["deleteGroup"]>().toEqualTypeOf<(group: Labels) => Promise<DeleteResult>>();
expectTypeOf<MetricsGateway["scrape"]>().toEqualTypeOf<(options?: ScrapeOptions) => Promise<string>>();
expectTypeOf<MetricsGateway["scrapeStream"]>().toEqualTypeOf<(options?: ScrapeOptions) => Promise<ReadableStream<Uint8Array>>>();
expectTypeOf<WriteOptions>().toEqualTypeOf<{ ttlSeconds?: number }>();
expectTypeOf<PushResult>().toEqualTypeOf<{ families: number; series: number }>();
expectTypeOf<MetricsBinding["fetch"]>().returns.toEqualTypeOf<Promise<Response>>();

// The batching helper takes any binding with `batch` and returns the documented Metrics.
expectTypeOf(metrics).parameter(0).toExtend<{ batch(ops: MetricOp[]): Promise<{ applied: number }> }>();
expectTypeOf(metrics).returns.toEqualTypeOf<Metrics>();
