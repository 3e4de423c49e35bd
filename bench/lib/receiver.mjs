// A remote-write receiver for the bench: a Node HTTP server on 127.0.0.1 that accepts every POST
// (204), keeps the snappy-compressed bodies, and decodes them only when asked (after a run, so the
// decoding does not compete with the export for the CPU). Counts requests, bytes, TimeSeries and
// samples (the protobuf is walked, not fully decoded: WriteRequest.timeseries = 1, TimeSeries.samples = 2).
import http from "node:http";
import { createRequire } from "node:module";

const snappy = createRequire(import.meta.url)("snappyjs");

/** Starts the receiver on a free port of 127.0.0.1. */
export async function startReceiver() {
  let bodies = [];
  let requests = 0;
  let bytes = 0;
  let firstAt = 0;
  let lastAt = 0;
  const badHeaders = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const now = performance.now();
      if (requests === 0) firstAt = now;
      lastAt = now;
      requests++;
      bytes += body.length;
      if (req.method !== "POST") badHeaders.add(`method ${req.method}`);
      if (req.headers["content-encoding"] !== "snappy") badHeaders.add(`content-encoding ${req.headers["content-encoding"]}`);
      if (!String(req.headers["content-type"] ?? "").startsWith("application/x-protobuf")) badHeaders.add(`content-type ${req.headers["content-type"]}`);
      bodies.push(body);
      res.writeHead(204);
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}/api/v1/write`,
    /** Forgets what came so far (call before a run). */
    reset() {
      bodies = [];
      requests = 0;
      bytes = 0;
      firstAt = 0;
      lastAt = 0;
      badHeaders.clear();
    },
    /** What came since the last reset, decoded. */
    summary() {
      let timeSeries = 0;
      let samples = 0;
      let rawBytes = 0;
      for (const body of bodies) {
        const raw = snappy.uncompress(body);
        rawBytes += raw.length;
        const counts = countWriteRequest(raw);
        timeSeries += counts.timeSeries;
        samples += counts.samples;
      }
      return { requests, bytes, rawBytes, timeSeries, samples, spanMs: lastAt - firstAt, problems: [...badHeaders] };
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function varint(buf, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, pos];
    shift += 7;
  }
}

/** Skips one field's value; returns the position after it. */
function skip(buf, pos, wire) {
  if (wire === 0) return varint(buf, pos)[1];
  if (wire === 1) return pos + 8;
  if (wire === 5) return pos + 4;
  if (wire === 2) {
    const [len, p] = varint(buf, pos);
    return p + len;
  }
  throw new Error(`protobuf wire type ${wire} not expected in a WriteRequest`);
}

function countWriteRequest(buf) {
  let timeSeries = 0;
  let samples = 0;
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p] = varint(buf, pos);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const [len, start] = varint(buf, p);
      const end = start + len;
      timeSeries++;
      let q = start;
      while (q < end) {
        const [t, q2] = varint(buf, q);
        if (Math.floor(t / 8) === 2 && (t & 7) === 2) samples++;
        q = skip(buf, q2, t & 7);
      }
      pos = end;
    } else pos = skip(buf, p, wire);
  }
  return { timeSeries, samples };
}
