/** Values the Node-side global setup files (test/setup/) provide to the workerd tests. */
declare module "vitest" {
  export interface ProvidedContext {
    /** A delimited protobuf push body built with protobufjs from metrics.proto (test/setup/protobuf.ts). */
    protobufPush: number[];
    /** Every case of the OpenMetrics parser vectors, or none when the folder is absent (the conformance test then fails). */
    openmetricsVectors: { name: string; metrics: string; shouldParse: boolean }[];
    /** Where the vectors were looked for, and whether that folder exists. */
    openmetricsVectorsDir: { path: string; found: boolean };
  }
}
export {};
