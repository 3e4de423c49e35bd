/** Decodes the Go client's push body: length-delimited `io.prometheus.client.MetricFamily` protobuf messages. */

// Hand-written rather than protobufjs: protobufjs builds its decoders at run time with `new Function`,
// which workerd forbids (code generation from strings is disabled), and the few small messages of
// metrics.proto take less code to read directly than a static code generator and its runtime would add.
// The messages are proto2: every field is optional with presence, and absent fields take their defaults
// (0, "", COUNTER) exactly as Go's `Get*()` accessors and its text encoder (expfmt) read them.

import { GatewayError } from "../../common/errors";
import { labelKey, renderPair } from "../../common/labels";
import type { Family, Histogram, LabelPairs, MetricType, Summary } from "../../common/model";
import { checkLabelName, checkMetricName, labelNameProblem } from "../../common/names";

/** Options of {@link parseDelimitedProtobuf}. */
export interface ProtobufOptions {
  /**
   * Accept metrics with `timestamp_ms` set (default `false`, as the gateway parses pushes): the
   * gateway stamps its own time on export, and a client's clock must never reach the receiver.
   * An accepted timestamp is ignored.
   */
  allowTimestamps?: boolean;
}

/**
 * Decodes an `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
 * encoding=delimited` body (what the Go client's `push` package sends) into the same families the
 * text parser produces.
 *
 * - Families keep their name as given (a Go counter is usually `foo_total`), help and unit.
 *   Families with no metrics are skipped; a name repeated in one body is an error.
 * - Counters, gauges and untyped become scalar series; summaries keep their quantiles as given;
 *   classic histograms keep their buckets (which must ascend) and get the implicit `+Inf` bucket
 *   (count = `sample_count`) when the last one is not `+Inf`. Float counts are read as Go's expfmt
 *   reads them: the `*_float` field when non-zero, else the integer one.
 * - Each series gets its canonical label key (`labelKey`: sorted, empty values left out); error
 *   messages show labels in wire order. Exemplars and created timestamps are dropped.
 *
 * Throws `GatewayError("ParseError")` for malformed bytes (`protobuf body: message N (family "x")
 * at byte offset B: ...`) and for inconsistent content (a value field that does not match the family
 * type, duplicate families or label names, unordered buckets); `"InvalidName"` for bad names;
 * `"InvalidValue"` for timestamps (unless allowed), native-only histograms and gauge histograms.
 * Duplicate series are left to the caller (`prepare` in merge.ts rejects them).
 *
 * @example
 * // Go: push.New(url, "job").Collector(requests).Push() sent `body`
 * parseDelimitedProtobuf(body)
 * // [{ name: "requests_total", type: "counter", help: "Requests.", unit: "",
 * //    keys: ['code="200"'], values: [3] }]
 */
export function parseDelimitedProtobuf(body: Uint8Array, options: ProtobufOptions = {}): Family[] {
  return new Decoder(body, options.allowTimestamps ?? false).run();
}

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;
const WIRE_NAMES = ["varint", "64-bit", "length-delimited", "start-group", "end-group", "32-bit", "6", "7"];

// MetricType values as stored types; GAUGE_HISTOGRAM (5) is recognised, then rejected.
const TYPES: readonly MetricType[] = ["counter", "gauge", "summary", "untyped", "histogram"];
const TYPE_NAMES = ["COUNTER", "GAUGE", "SUMMARY", "UNTYPED", "HISTOGRAM", "GAUGE_HISTOGRAM"];
const GAUGE_HISTOGRAM = 5;

// Metric's value fields by field number, and the field each MetricType must use.
const VALUE_FIELDS = ["", "", "gauge", "counter", "summary", "untyped", "", "histogram"];
const FIELD_OF_TYPE = [3, 2, 4, 5, 7, 7];

// Strings up to INTERN_MAX bytes go through a table of INTERN_SIZE entries (see Decoder.internStr).
const INTERN_SIZE = 4096;
const INTERN_MAX = 64;

const HINT = "the body must be length-delimited io.prometheus.client.MetricFamily messages, as the Go client's push sends them";

/** A metric's fields while it is decoded; a value message repeated on the wire merges, as protobuf says. */
interface MetricState {
  labels: LabelPairs;
  /** The value fields seen, one bit per Metric field number. */
  fields: number;
  value: number;
  hasTimestamp: boolean;
  /** Summary and histogram `sample_count`, histogram `sample_count_float`, `sample_sum`. */
  count: number;
  countFloat: number;
  sum: number;
  /** Summary quantiles or histogram upper bounds, and their values or cumulative counts. */
  keys: number[];
  values: number[];
  /** The histogram has native-histogram fields (schema, zero bucket, spans, deltas, counts). */
  native: boolean;
}

class Decoder {
  readonly buf: Uint8Array;
  readonly view: DataView;
  readonly allowTimestamps: boolean;
  // ignoreBOM keeps a leading U+FEFF: protobuf strings are exact bytes, not documents.
  readonly utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  pos = 0;
  /** 1-based index of the delimited message being read, and its family name once known (for errors). */
  message = 0;
  family = "";
  /**
   * Strings interned by their bytes: label names, and most label values, repeat across the metrics
   * and families of a body, and reusing the string read earlier saves decoding and allocating it
   * (measured on 10k series: 20 ms -> 5 ms, most of the difference garbage collection). Each entry
   * holds a string and where its bytes are in the body, to confirm a hash match byte by byte.
   */
  readonly internStr: (string | undefined)[] = new Array<string | undefined>(INTERN_SIZE);
  readonly internAt = new Int32Array(INTERN_SIZE);
  readonly internLen = new Int32Array(INTERN_SIZE);

  constructor(buf: Uint8Array, allowTimestamps: boolean) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.allowTimestamps = allowTimestamps;
  }

  run(): Family[] {
    const out: Family[] = [];
    const seen = new Set<string>();
    const len = this.buf.length;
    while (this.pos < len) {
      this.message++;
      this.family = "";
      const at = this.pos;
      const size = this.varint(len);
      if (size > len - this.pos) this.corrupt(`the message length ${size} runs past the end of the body (${len - this.pos} bytes left); the body is truncated`, at);
      const family = this.familyMessage(this.pos + size, seen);
      if (family !== undefined) out.push(family);
    }
    return out;
  }

  /** One MetricFamily ending at `end`, or `undefined` for a family without metrics. */
  familyMessage(end: number, seen: Set<string>): Family | undefined {
    const start = this.pos;
    let name = "";
    let help = "";
    let unit = "";
    let typeCode = 0;
    // Metrics are read once the type is known: protobuf allows fields in any order.
    const metrics: number[] = [];
    while (this.pos < end) {
      const key = this.key(end);
      const field = key >>> 3;
      const wire = key & 7;
      if (field === 1) {
        name = this.string(wire, end, "MetricFamily.name");
        this.family = name;
      } else if (field === 2) {
        help = this.string(wire, end, "MetricFamily.help");
      } else if (field === 3) {
        const at = this.pos;
        typeCode = this.uint(wire, end, "MetricFamily.type");
        if (typeCode > GAUGE_HISTOGRAM) this.corrupt(`unknown metric type ${typeCode}; io.prometheus.client.MetricType is 0 to 5`, at);
      } else if (field === 4) {
        const e = this.sub(wire, end, "MetricFamily.metric");
        metrics.push(this.pos, e);
        this.pos = e;
      } else if (field === 5) {
        unit = this.string(wire, end, "MetricFamily.unit");
      } else {
        this.skip(field, wire, end);
      }
    }
    if (name === "") this.fail("the family has no name; every MetricFamily needs one", start);
    checkMetricName(name, "protobuf body");
    if (seen.has(name)) this.fail(`family "${name}" appears twice in the body; send each family once, with all its metrics`, start);
    seen.add(name);
    if (typeCode === GAUGE_HISTOGRAM) {
      throw new GatewayError(
        "InvalidValue",
        `metric "${name}": gauge histograms are not supported: the gateway stores counters, gauges, histograms, summaries and untyped metrics; push it as a histogram or as gauges`,
      );
    }
    if (metrics.length === 0) return undefined;
    const type = TYPES[typeCode] ?? "counter";
    const keys: string[] = [];
    // Each metric is checked, then its value read as the family's type says.
    const read = <T>(value: (m: MetricState, at: number) => T): T[] => {
      const values: T[] = [];
      for (let i = 0; i < metrics.length; i += 2) {
        const at = (this.pos = metrics[i] ?? 0);
        const m = this.metric(metrics[i + 1] ?? 0, name, typeCode, type);
        keys.push(labelKey(m.labels));
        values.push(value(m, at));
      }
      this.pos = end;
      return values;
    };
    if (type === "histogram") return { name, type, help, unit, keys, values: read((m, at) => this.histogramValue(m, name, at)) };
    if (type === "summary") return { name, type, help, unit, keys, values: read((m, at) => this.summaryValue(m, name, at)) };
    return { name, type, help, unit, keys, values: read((m) => m.value) };
  }

  /** One Metric ending at `end`, checked against the family's type. */
  metric(end: number, family: string, typeCode: number, type: MetricType): MetricState {
    const start = this.pos;
    const m: MetricState = { labels: [], fields: 0, value: 0, hasTimestamp: false, count: 0, countFloat: 0, sum: 0, keys: [], values: [], native: false };
    while (this.pos < end) {
      const key = this.key(end);
      const field = key >>> 3;
      const wire = key & 7;
      switch (field) {
        case 1:
          this.labelPair(wire, end, m.labels);
          break;
        case 2:
        case 3:
        case 5:
          m.fields |= 1 << field;
          m.value = this.valueMessage(wire, end, m.value, VALUE_FIELDS[field] ?? "");
          break;
        case 4:
          m.fields |= 1 << field;
          this.summary(wire, end, m);
          break;
        case 6:
          this.uint(wire, end, "Metric.timestamp_ms");
          m.hasTimestamp = true;
          break;
        case 7:
          m.fields |= 1 << field;
          this.histogram(wire, end, m);
          break;
        default:
          this.skip(field, wire, end);
      }
    }

    const labels = m.labels;
    this.checkLabels(labels, family, type, start);
    const want = FIELD_OF_TYPE[typeCode] ?? 3;
    if (m.fields !== 1 << want) {
      const got = VALUE_FIELDS.filter((_, f) => (m.fields & (1 << f)) !== 0);
      const found = got.length === 0 ? "no value field" : `value field${got.length > 1 ? "s" : ""} ${got.join(" and ")}`;
      const typeName = TYPE_NAMES[typeCode] ?? String(typeCode);
      this.fail(`${where(family, labels)} has ${found}, but its family is a ${typeName}; a ${typeName} metric needs exactly the "${VALUE_FIELDS[want] ?? ""}" field`, start);
    }
    if (m.hasTimestamp && !this.allowTimestamps) {
      throw new GatewayError("InvalidValue", `${where(family, labels)}: sample has a timestamp; the gateway stamps its own time on export, push without timestamps`);
    }
    return m;
  }

  /** Label names: valid, distinct, and not the one a histogram or summary uses for its buckets. */
  checkLabels(labels: LabelPairs, family: string, type: MetricType, at: number): void {
    const reserved = type === "histogram" ? "le" : type === "summary" ? "quantile" : "";
    // The Go client sorts label names: while they ascend, none can repeat, so only unsorted ones are searched.
    let sorted = true;
    for (let i = 0; i < labels.length; i += 2) {
      const name = labels[i] ?? "";
      // checkLabelName's check, with the message built only on failure: this runs per label.
      if (labelNameProblem(name) !== undefined) checkLabelName(name, where(family, labels));
      if (i > 0 && !(sorted && name > (labels[i - 2] ?? ""))) {
        sorted = false;
        for (let k = 0; k < i; k += 2) {
          if (labels[k] === name) this.fail(`label "${name}" appears twice in ${where(family, labels)}; keep one`, at);
        }
      }
      if (name === reserved) {
        throw new GatewayError("InvalidName", `${where(family, labels)}: label "${name}" is reserved for the ${type}'s ${type === "histogram" ? "buckets" : "quantiles"}; rename the label`);
      }
    }
  }

  summaryValue(m: MetricState, family: string, at: number): Summary {
    const quantiles = m.keys;
    for (let i = 0; i < quantiles.length; i++) {
      const q = quantiles[i] ?? 0;
      if (!(q >= 0 && q <= 1)) this.fail(`${where(family, m.labels)}: quantile ${q} is outside [0, 1]`, at);
      if (quantiles.indexOf(q) !== i) this.fail(`${where(family, m.labels)}: quantile ${q} appears twice`, at);
    }
    return { quantiles, values: m.values, sum: m.sum, count: m.count };
  }

  histogramValue(m: MetricState, family: string, at: number): Histogram {
    const bounds = m.keys;
    const counts = m.values;
    const n = bounds.length;
    if (n === 0 && m.native) {
      throw new GatewayError(
        "InvalidValue",
        `${where(family, m.labels)}: native histograms are not supported; push classic buckets (in Go, set Buckets in HistogramOpts and leave NativeHistogramBucketFactor unset)`,
      );
    }
    let lastBound = -Infinity;
    let lastCount = 0;
    for (let i = 0; i < n; i++) {
      const le = bounds[i] ?? 0;
      const c = counts[i] ?? 0;
      if (Number.isNaN(le)) this.fail(`${where(family, m.labels)}: bucket ${i + 1} has upper bound NaN`, at);
      if (i > 0 && !(le > lastBound)) {
        const problem = le === lastBound ? "appears twice" : `comes after ${formatNumber(lastBound)}`;
        this.fail(`${where(family, m.labels)}: bucket upper bound ${formatNumber(le)} ${problem}; buckets must be in ascending order of upper_bound`, at);
      }
      if (!(c >= lastCount)) {
        this.fail(`${where(family, m.labels)}: bucket le=${formatNumber(le)} has cumulative count ${c}, less than the previous bucket's ${lastCount}; bucket counts are cumulative and never decrease`, at);
      }
      lastBound = le;
      lastCount = c;
    }
    const count = m.countFloat !== 0 ? m.countFloat : m.count;
    if (lastBound === Infinity) {
      if (count !== lastCount) this.fail(`${where(family, m.labels)}: sample_count ${count} differs from the +Inf bucket's count ${lastCount}; they must be equal`, at);
    } else {
      if (!(count >= lastCount)) this.fail(`${where(family, m.labels)}: sample_count ${count} is less than the last bucket's cumulative count ${lastCount}`, at);
      bounds.push(Infinity);
      counts.push(count);
    }
    return { bounds, counts, sum: m.sum, count };
  }

  /** A LabelPair, appended to `labels` as name, value. */
  labelPair(wire: number, end: number, labels: LabelPairs): void {
    const e = this.sub(wire, end, "Metric.label");
    let name = "";
    let value = "";
    while (this.pos < e) {
      const key = this.key(e);
      const field = key >>> 3;
      if (field === 1) name = this.string(key & 7, e, "LabelPair.name");
      else if (field === 2) value = this.string(key & 7, e, "LabelPair.value");
      else this.skip(field, key & 7, e);
    }
    labels.push(name, value);
  }

  /** Gauge, Counter or Untyped: field 1 is the value (a Counter's exemplar and created timestamp are skipped). */
  valueMessage(wire: number, end: number, previous: number, what: string): number {
    const e = this.sub(wire, end, `Metric.${what}`);
    let value = previous;
    while (this.pos < e) {
      const key = this.key(e);
      if (key >>> 3 === 1) value = this.double(key & 7, e, `${what}.value`);
      else this.skip(key >>> 3, key & 7, e);
    }
    return value;
  }

  summary(wire: number, end: number, m: MetricState): void {
    const e = this.sub(wire, end, "Metric.summary");
    while (this.pos < e) {
      const key = this.key(e);
      const field = key >>> 3;
      if (field === 1) m.count = this.uint(key & 7, e, "Summary.sample_count");
      else if (field === 2) m.sum = this.double(key & 7, e, "Summary.sample_sum");
      else if (field === 3) {
        const qe = this.sub(key & 7, e, "Summary.quantile");
        let q = 0;
        let v = 0;
        while (this.pos < qe) {
          const k = this.key(qe);
          if (k >>> 3 === 1) q = this.double(k & 7, qe, "Quantile.quantile");
          else if (k >>> 3 === 2) v = this.double(k & 7, qe, "Quantile.value");
          else this.skip(k >>> 3, k & 7, qe);
        }
        m.keys.push(q);
        m.values.push(v);
      } else this.skip(field, key & 7, e);
    }
  }

  histogram(wire: number, end: number, m: MetricState): void {
    const e = this.sub(wire, end, "Metric.histogram");
    while (this.pos < e) {
      const key = this.key(e);
      const field = key >>> 3;
      if (field === 1) m.count = this.uint(key & 7, e, "Histogram.sample_count");
      else if (field === 2) m.sum = this.double(key & 7, e, "Histogram.sample_sum");
      else if (field === 3) {
        const be = this.sub(key & 7, e, "Histogram.bucket");
        let count = 0;
        let countFloat = 0;
        let bound = 0;
        while (this.pos < be) {
          const k = this.key(be);
          const f = k >>> 3;
          if (f === 1) count = this.uint(k & 7, be, "Bucket.cumulative_count");
          else if (f === 2) bound = this.double(k & 7, be, "Bucket.upper_bound");
          else if (f === 4) countFloat = this.double(k & 7, be, "Bucket.cumulative_count_float");
          else this.skip(f, k & 7, be);
        }
        m.keys.push(bound);
        m.values.push(countFloat !== 0 ? countFloat : count);
      } else if (field === 4) m.countFloat = this.double(key & 7, e, "Histogram.sample_count_float");
      else {
        // Fields 5-14 are native-histogram data (packed or not): skipped, only their presence matters.
        if (field >= 5 && field <= 14) m.native = true;
        this.skip(field, key & 7, e);
      }
    }
  }

  // ---- errors and wire primitives: each reads at `pos`, within `end` ----

  /** A ParseError located in the body: message number, family, byte offset. */
  fail(what: string, at = this.pos): never {
    const family = this.family === "" ? "" : ` (family "${this.family}")`;
    throw new GatewayError("ParseError", `protobuf body: message ${this.message}${family} at byte offset ${at}: ${what}`);
  }

  /** {@link fail} for bytes that are not the expected protobuf, with a hint about the format. */
  corrupt(what: string, at = this.pos): never {
    this.fail(`${what}; ${HINT}`, at);
  }

  /** A field key: field number `key >>> 3`, wire type `key & 7` (a number, not a tuple: this runs per field). */
  key(end: number): number {
    const at = this.pos;
    const key = this.varint(end);
    if (key < 8 || key > 0xffffffff) this.corrupt(`invalid field number ${Math.floor(key / 8)}`, at);
    return key;
  }

  /** An unsigned varint of up to 64 bits; exact up to 2^53, which counts never reach. */
  varint(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.corrupt(end === buf.length ? "the body ends inside a varint; the body is truncated" : "a varint runs past the end of its message", this.pos);
      const b = buf[pos++] ?? 0;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
      scale *= 128;
    }
    this.corrupt("a varint is longer than 10 bytes");
  }

  expect(wire: number, want: number, what: string): void {
    if (wire !== want) this.corrupt(`field ${what} has wire type ${WIRE_NAMES[wire] ?? wire}, expected ${WIRE_NAMES[want] ?? want}`);
  }

  uint(wire: number, end: number, what: string): number {
    this.expect(wire, VARINT, what);
    return this.varint(end);
  }

  double(wire: number, end: number, what: string): number {
    this.expect(wire, I64, what);
    const at = this.pos;
    if (end - at < 8) this.corrupt(`field ${what} runs past the end of ${end === this.buf.length ? "the body" : "its message"}`);
    this.pos = at + 8;
    return this.view.getFloat64(at, true);
  }

  /** The end of a length-delimited field; `pos` is left at its first byte. */
  sub(wire: number, end: number, what: string): number {
    this.expect(wire, LEN, what);
    const at = this.pos;
    const len = this.varint(end);
    if (len > end - this.pos) {
      this.corrupt(
        end === this.buf.length ? `field ${what} of ${len} bytes runs past the end of the body; the body is truncated` : `field ${what} of ${len} bytes runs past the end of its enclosing message`,
        at,
      );
    }
    return this.pos + len;
  }

  string(wire: number, end: number, what: string): string {
    const at = this.pos;
    const e = this.sub(wire, end, what);
    const buf = this.buf;
    const start = this.pos;
    const len = e - start;
    this.pos = e;
    if (len > INTERN_MAX) return this.decodeUtf8(start, e, what, at);
    // FNV-1a of the bytes picks the table entry.
    let h = 0x811c9dc5;
    for (let i = start; i < e; i++) h = Math.imul(h ^ (buf[i] ?? 0), 0x01000193);
    const slot = (h ^ (h >>> 15)) & (INTERN_SIZE - 1);
    const cached = this.internStr[slot];
    if (cached !== undefined && this.internLen[slot] === len) {
      const from = this.internAt[slot] ?? 0;
      let i = 0;
      while (i < len && buf[start + i] === buf[from + i]) i++;
      if (i === len) return cached;
    }
    // TextDecoder even for short ASCII: building strings char by char measured 2-4x slower (garbage).
    const s = this.decodeUtf8(start, e, what, at);
    this.internStr[slot] = s;
    this.internAt[slot] = start;
    this.internLen[slot] = len;
    return s;
  }

  decodeUtf8(start: number, end: number, what: string, at: number): string {
    try {
      return this.utf8.decode(this.buf.subarray(start, end));
    } catch {
      return this.fail(`field ${what} is not valid UTF-8; strings must be UTF-8 encoded`, at);
    }
  }

  /** Skips a field this decoder does not read, by its wire type. */
  skip(field: number, wire: number, end: number): void {
    const at = this.pos;
    if (wire === VARINT) {
      this.varint(end);
    } else if (wire === I64 || wire === I32) {
      const n = wire === I64 ? 8 : 4;
      if (end - at < n) this.corrupt(`field ${field} runs past the end of its message`);
      this.pos = at + n;
    } else if (wire === LEN) {
      this.pos = this.sub(wire, end, String(field));
    } else if (wire === SGROUP) {
      // A proto2 group: skip its fields up to the matching end-group key.
      for (;;) {
        const k = this.key(end);
        if ((k & 7) === EGROUP) {
          if (k >>> 3 !== field) this.corrupt(`end-group of field ${k >>> 3} closes group ${field}`);
          return;
        }
        this.skip(k >>> 3, k & 7, end);
      }
    } else {
      this.corrupt(`field ${field} has wire type ${WIRE_NAMES[wire] ?? wire}, which is invalid here`, at);
    }
  }
}

function formatNumber(n: number): string {
  return n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n);
}

/** `metric name{a="x",b="y"}`, labels in wire order: where a series is, for messages. */
function where(family: string, pairs: LabelPairs): string {
  let out = "";
  for (let i = 0; i < pairs.length; i += 2) out += (i > 0 ? "," : "") + renderPair(pairs[i] ?? "", pairs[i + 1] ?? "");
  return `metric ${family}{${out}}`;
}
