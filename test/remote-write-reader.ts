/**
 * A minimal reader for remote-write 1.0 WriteRequests, for tests only: written from the .proto
 * field numbers, independent of the encoder, and keeping each double's raw bits (a JS number would
 * lose the stale-marker NaN payload).
 */
import { uncompress } from "snappyjs";

export interface ReadSample {
  value: number;
  bits: bigint;
  timestamp: number;
}

export interface ReadSeries {
  labels: [string, string][];
  samples: ReadSample[];
}

export interface ReadMetadata {
  type: number;
  family: string;
  help: string;
  unit: string;
}

export interface ReadRequest {
  series: ReadSeries[];
  metadata: ReadMetadata[];
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error("truncated varint");
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  bytes(): Uint8Array {
    const len = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  fixed64(): { value: number; bits: bigint } {
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return { value: view.getFloat64(0, true), bits: view.getBigUint64(0, true) };
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unknown wire type ${wire}`);
  }
}

const text = new TextDecoder();

function fields(buf: Uint8Array, each: (field: number, wire: number, r: Reader) => void): void {
  const r = new Reader(buf);
  while (!r.done) {
    const key = Number(r.varint());
    each(key >> 3, key & 7, r);
  }
}

/** Decodes an uncompressed WriteRequest. */
export function readWriteRequest(buf: Uint8Array): ReadRequest {
  const out: ReadRequest = { series: [], metadata: [] };
  fields(buf, (field, wire, r) => {
    if (field === 1 && wire === 2) {
      const series: ReadSeries = { labels: [], samples: [] };
      fields(r.bytes(), (f, w, rr) => {
        if (f === 1 && w === 2) {
          let name = "";
          let value = "";
          fields(rr.bytes(), (lf, lw, lr) => {
            if (lf === 1 && lw === 2) name = text.decode(lr.bytes());
            else if (lf === 2 && lw === 2) value = text.decode(lr.bytes());
            else lr.skip(lw);
          });
          series.labels.push([name, value]);
        } else if (f === 2 && w === 2) {
          const sample: ReadSample = { value: 0, bits: 0n, timestamp: 0 };
          fields(rr.bytes(), (sf, sw, sr) => {
            if (sf === 1 && sw === 1) Object.assign(sample, sr.fixed64());
            else if (sf === 2 && sw === 0) sample.timestamp = Number(BigInt.asIntN(64, sr.varint()));
            else sr.skip(sw);
          });
          series.samples.push(sample);
        } else rr.skip(w);
      });
      out.series.push(series);
    } else if (field === 3 && wire === 2) {
      const meta: ReadMetadata = { type: 0, family: "", help: "", unit: "" };
      fields(r.bytes(), (f, w, rr) => {
        if (f === 1 && w === 0) meta.type = Number(rr.varint());
        else if (f === 2 && w === 2) meta.family = text.decode(rr.bytes());
        else if (f === 4 && w === 2) meta.help = text.decode(rr.bytes());
        else if (f === 5 && w === 2) meta.unit = text.decode(rr.bytes());
        else rr.skip(w);
      });
      out.metadata.push(meta);
    } else r.skip(wire);
  });
  return out;
}

/** Decodes a snappy-compressed WriteRequest as sent on the wire. */
export function readCompressed(body: Uint8Array): ReadRequest {
  return readWriteRequest(uncompress(body));
}

/** `name{a="b"}` for a decoded series, labels in wire order. */
export function seriesName(series: ReadSeries): string {
  const name = series.labels.find(([k]) => k === "__name__")?.[1] ?? "";
  const rest = series.labels.filter(([k]) => k !== "__name__").map(([k, v]) => `${k}="${v}"`);
  return rest.length > 0 ? `${name}{${rest.join(",")}}` : name;
}
