/** Values the Node-side global setup files (test/setup/) provide to the workerd tests. */
declare module "vitest" {
  export interface ProvidedContext {
    /** A delimited protobuf push body built with protobufjs from metrics.proto (test/setup/protobuf.ts). */
    protobufPush: number[];
  }
}
export {};
