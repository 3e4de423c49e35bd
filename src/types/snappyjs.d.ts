/** Types for snappyjs 0.7 (the package ships none): snappy *block* format, as remote write requires. */
declare module "snappyjs" {
  /** Compresses to the snappy block format; returns the same kind of buffer it was given. */
  export function compress(uncompressed: Uint8Array): Uint8Array;
  export function compress(uncompressed: ArrayBuffer): ArrayBuffer;
  /** Decompresses a snappy block; throws past `maxLength` bytes or on a corrupt block. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  export function uncompress(compressed: ArrayBuffer, maxLength?: number): ArrayBuffer;
}
