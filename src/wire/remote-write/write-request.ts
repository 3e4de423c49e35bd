/** Encodes stored families as remote-write 1.0 `WriteRequest` bodies: labels, stale markers, metadata, batches. */
import { parseLabelKey } from "../../common/labels";
import { seriesColumns, type MetricType, type SeriesInput, type SeriesValue } from "../../common/model";
import { escapeKey, escapeMetricName } from "../exposition/escaping";
import { formatOpenMetricsFloat } from "../exposition/float";

// Kept importable from here, where it was first.
export { formatOpenMetricsFloat };
import { ProtoWriter, encodeVarint, putVarint, varintSize } from "./protobuf";

/** The stale-marker NaN Prometheus recognises (`value.StaleNaN`); only exact bits count. */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

/** Receivers and Prometheus itself send about this many series per request. */
export const DEFAULT_MAX_SERIES_PER_REQUEST = 2000;

/** A family to export: its metadata and its series as stored (canonical label key, value). */
export interface ExportFamily {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly unit: string;
  /** Columns, or `[labelKey, value]` entries. */
  readonly series: SeriesInput;
}

/**
 * A series deleted since the last export. `value` is its last stored value: a histogram's or
 * summary's stale markers need its bucket bounds or quantiles; a scalar's value is ignored.
 */
export interface StaleSeries {
  readonly family: string;
  readonly type: MetricType;
  readonly key: string;
  readonly value: SeriesValue;
}

/**
 * What to do with metric and label names outside `[a-zA-Z_:][a-zA-Z0-9_:]*` (remote write 1.0
 * receivers reject them, and with them the whole request): `underscores` escapes them as a scrape
 * for Prometheus 2 does (`a.b` -> `a_b`; the registry keeps escaped names from colliding),
 * `allow-utf-8` sends them as they are (for receivers that accept UTF-8 names), `drop` leaves such
 * series out (counted as `invalid_name`).
 */
export type NameEscaping = "underscores" | "allow-utf-8" | "drop";

export interface EncodeOptions {
  /** The sample time of every sample, ms since the epoch, from the gateway's own clock. */
  timestampMs: number;
  /** At most this many TimeSeries per request; default {@link DEFAULT_MAX_SERIES_PER_REQUEST}. */
  maxSeriesPerRequest?: number;
  /** Default `drop`. */
  nameEscaping?: NameEscaping;
}

/**
 * Why a stored series was not sent (one count per stored series, however many TimeSeries it expands to):
 * - `invalid_name`: the metric or a label name is not a legacy Prometheus name (e.g. a quoted UTF-8 name);
 * - `duplicate_label`: the key repeats a label or carries one the encoder adds (`__name__`, `le`, `quantile`);
 * - `malformed_key`: the label key is not in the canonical sorted form of `labelKey`;
 * - `invalid_value`: the value's shape does not fit the family type (a number for a histogram ...).
 */
export type DropReason = "invalid_name" | "duplicate_label" | "malformed_key" | "invalid_value";

export interface EncodedBatch {
  /** One uncompressed protobuf `WriteRequest`. */
  body: Uint8Array;
  /** TimeSeries in it. */
  series: number;
  /** Samples in it (one per TimeSeries). */
  samples: number;
}

export interface EncodeResult {
  /** Requests to send in order; empty when there is nothing to send. */
  batches: EncodedBatch[];
  dropped: Record<DropReason, number>;
  /** TimeSeries written over all batches, stale markers included. */
  series: number;
  /** Of those, TimeSeries carrying a stale marker. */
  stale: number;
}

/**
 * Encodes families and stale markers as remote-write 1.0 `WriteRequest`s, ready for snappy.
 *
 * Every TimeSeries carries `__name__` plus its labels sorted by name, without empty values, and one
 * sample at `options.timestampMs`. Histograms expand to `_bucket{le}`, `_sum`, `_count`; summaries to
 * `{quantile}`, `_sum`, `_count`, with `le` / `quantile` in Prometheus 3's canonical form; one stored
 * series' expansion stays in one request unless it alone exceeds the limit. Series that a receiver would
 * reject (and with them the whole request) are dropped and counted instead. Each family's
 * `MetricMetadata` goes into the request carrying its first series. Stale markers follow the live series.
 *
 * @example
 * const { batches } = encodeWriteRequests(
 *   [{ name: "jobs_total", type: "counter", help: "Jobs run.", unit: "", series: [['job="a"', 3]] }],
 *   [],
 *   { timestampMs: Date.now() },
 * );
 * for (const batch of batches) await send(snappy.compress(batch.body));
 */
export function encodeWriteRequests(families: Iterable<ExportFamily>, stale: readonly StaleSeries[], options: EncodeOptions): EncodeResult {
  const encoder = new WriteRequestEncoder(options);
  for (const family of families) encoder.family(family);
  encoder.stale(stale);
  return encoder.finish();
}

const enum Kind {
  Scalar,
  Histogram,
  Summary,
}

const enum Status {
  Ok,
  InvalidName,
  Duplicate,
  Malformed,
}

/** `MetricMetadata.MetricType`; untyped is UNKNOWN (0), which proto3 leaves out. */
const METADATA_TYPE: Record<MetricType, number> = { untyped: 0, counter: 1, gauge: 2, histogram: 3, summary: 5 };

const EMPTY = new Uint8Array(0);

// Field keys: (field number << 3) | wire type.
const KEY_TIMESERIES = 0x0a; // WriteRequest.timeseries = 1, LEN
const KEY_METADATA = 0x1a; // WriteRequest.metadata = 3, LEN
const KEY_LABELS = 0x0a; // TimeSeries.labels = 1, LEN
const KEY_SAMPLES = 0x12; // TimeSeries.samples = 2, LEN
const KEY_NAME = 0x0a; // Label.name = 1, LEN
const KEY_VALUE = 0x12; // Label.value = 2, LEN
const KEY_SAMPLE_VALUE = 0x09; // Sample.value = 1, FIXED64
const KEY_SAMPLE_TIMESTAMP = 0x10; // Sample.timestamp = 2, VARINT
const KEY_META_TYPE = 0x08; // MetricMetadata.type = 1, VARINT
const KEY_META_NAME = 0x12; // MetricMetadata.metric_family_name = 2, LEN
const KEY_META_HELP = 0x22; // MetricMetadata.help = 4, LEN
const KEY_META_UNIT = 0x2a; // MetricMetadata.unit = 5, LEN

/** The `__name__` label fields of a family's TimeSeries: base (or `_bucket`), `_sum`, `_count`. */
interface NameLabels {
  main: Uint8Array;
  sum: Uint8Array;
  count: Uint8Array;
}

/** Per kept label of the current key: name and raw value byte ranges, unescaped value length, Label size. */
const RANGE_NAME_START = 0;
const RANGE_NAME_END = 1;
const RANGE_VALUE_START = 2;
const RANGE_VALUE_END = 3;
const RANGE_VALUE_LEN = 4;
const RANGE_LABEL_LEN = 5;
const RANGE_STRIDE = 6;

const NAME_BYTES = new TextEncoder().encode("__name__");
const LE_BYTES = new TextEncoder().encode("le");
const QUANTILE_BYTES = new TextEncoder().encode("quantile");

/**
 * The encoder behind {@link encodeWriteRequests}, for callers that encode as data arrives: feed it
 * families (a family may come in several parts of its series), take the requests completed so far
 * with {@link take} and send them, and {@link finish} at the end. Memory then holds one request
 * being built plus what the caller has not sent yet.
 */
export class WriteRequestEncoder {
  readonly #out = new ProtoWriter(256 * 1024);
  readonly #utf8 = new TextEncoder();
  /** The current stored series' label key as UTF-8. */
  #key = new Uint8Array(1024);
  /** Its kept labels, {@link RANGE_STRIDE} ints each. */
  #ranges = new Int32Array(RANGE_STRIDE * 32);
  #labelCount = 0;
  /** Bytes of all its kept labels as `TimeSeries.labels` fields. */
  #labelsSize = 0;
  /** How many of its labels sort before `__name__`, and before `le` / `quantile`. */
  #beforeName = 0;
  #beforeExtra = 0;

  readonly #sampleHead: Uint8Array;
  readonly #sampleTail: Uint8Array;
  readonly #sampleSize: number;
  readonly #max: number;
  readonly #escaping: NameEscaping;
  /** The family whose metadata was announced last, so a family fed in parts is announced once. */
  #announced: string | null = null;

  /** Encoded `le` / `quantile` label fields by value: bucket layouts repeat across series. */
  readonly #leFields = new Map<number, Uint8Array>();
  readonly #quantileFields = new Map<number, Uint8Array>();
  readonly #pendingMetadata: ExportFamily[] = [];
  readonly #batches: EncodedBatch[] = [];
  readonly #dropped: Record<DropReason, number> = { invalid_name: 0, duplicate_label: 0, malformed_key: 0, invalid_value: 0 };
  #batchSeries = 0;
  #series = 0;
  #stale = 0;

  constructor(options: EncodeOptions) {
    const { timestampMs, maxSeriesPerRequest = DEFAULT_MAX_SERIES_PER_REQUEST } = options;
    if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
      throw new RangeError(`timestampMs must be a non-negative integer of milliseconds since the epoch, got ${timestampMs}`);
    }
    if (!Number.isSafeInteger(maxSeriesPerRequest) || maxSeriesPerRequest < 1) {
      throw new RangeError(`maxSeriesPerRequest must be a positive integer, got ${maxSeriesPerRequest}`);
    }
    this.#max = maxSeriesPerRequest;
    this.#escaping = options.nameEscaping ?? "drop";
    // Every sample has the same timestamp, so a Sample is a fixed head, 8 value bytes and a fixed tail.
    const ts = encodeVarint(timestampMs);
    const sampleLen = 1 + 8 + 1 + ts.length;
    this.#sampleHead = Uint8Array.of(KEY_SAMPLES, sampleLen, KEY_SAMPLE_VALUE);
    this.#sampleTail = new Uint8Array(1 + ts.length);
    this.#sampleTail[0] = KEY_SAMPLE_TIMESTAMP;
    this.#sampleTail.set(ts, 1);
    this.#sampleSize = 2 + sampleLen;
  }

  /** Encodes a family's series (or the next part of them: metadata goes with the first part only). */
  family(family: ExportFamily): void {
    const kind = kindOf(family.type);
    let name = family.name;
    if (!isMetricName(name)) {
      if (this.#escaping === "drop") {
        const { from, to } = seriesColumns(family.series);
        this.#dropped.invalid_name += to - from;
        return;
      }
      if (this.#escaping === "underscores") name = escapeMetricName(name, "underscores");
    }
    const names = nameLabels(name, kind);
    let announce: ExportFamily | null = this.#announced === family.name ? null : { ...family, name };
    this.#announced = family.name;
    const { keys, values, from, to } = seriesColumns(family.series);
    for (let i = from; i < to; i++) {
      if (this.#storedSeries(names, kind, keys[i] ?? "", values[i] ?? NaN, false, announce)) announce = null;
    }
  }

  stale(list: readonly StaleSeries[]): void {
    let lastName = "";
    let lastKind = Kind.Scalar;
    let names: NameLabels | null = null;
    for (const s of list) {
      const kind = kindOf(s.type);
      let name = s.family;
      if (!isMetricName(name)) {
        if (this.#escaping === "drop") {
          this.#dropped.invalid_name++;
          continue;
        }
        if (this.#escaping === "underscores") name = escapeMetricName(name, "underscores");
      }
      if (names === null || s.family !== lastName || kind !== lastKind) {
        names = nameLabels(name, kind);
        lastName = s.family;
        lastKind = kind;
      }
      this.#storedSeries(names, kind, s.key, s.value, true, null);
    }
  }

  /** The requests completed so far (each handed out once). */
  take(): EncodedBatch[] {
    return this.#batches.splice(0, this.#batches.length);
  }

  finish(): EncodeResult {
    if (this.#batchSeries > 0) this.#flush();
    return { batches: this.#batches, dropped: this.#dropped, series: this.#series, stale: this.#stale };
  }

  /** Writes one stored series' TimeSeries; false (and counted) when it is dropped. */
  #storedSeries(names: NameLabels, kind: Kind, key: string, value: SeriesValue, stale: boolean, announce: ExportFamily | null): boolean {
    let n = 0;
    if (kind === Kind.Scalar) {
      if (typeof value !== "number" && !stale) return this.#drop("invalid_value");
    } else {
      if (typeof value === "number" || value.length < 2 || (value.length & 1) === 1) return this.#drop("invalid_value");
      n = (value.length - 2) >> 1;
    }
    const extraBytes = kind === Kind.Histogram ? LE_BYTES : kind === Kind.Summary ? QUANTILE_BYTES : null;
    let status: Status;
    if (key.charCodeAt(0) === QUOTE || key.includes(',"')) {
      // A quoted (UTF-8) label name, or a value that only looks like one.
      if (this.#escaping === "underscores") status = this.#readKey(escapeKey(key, "underscores"), extraBytes);
      else if (this.#escaping === "allow-utf-8") status = this.#readPairs(parseLabelKey(key), extraBytes);
      else status = this.#readKey(key, extraBytes);
    } else status = this.#readKey(key, extraBytes);
    if (status !== Status.Ok) {
      return this.#drop(status === Status.InvalidName ? "invalid_name" : status === Status.Duplicate ? "duplicate_label" : "malformed_key");
    }
    const expansion = kind === Kind.Scalar ? 1 : n + 2;
    if (this.#batchSeries > 0 && this.#batchSeries + expansion > this.#max) this.#flush();
    if (announce !== null) this.#pendingMetadata.push(announce);

    if (kind === Kind.Scalar || typeof value === "number") {
      this.#timeSeries(names.main, EMPTY, typeof value === "number" ? value : NaN, stale);
      return true;
    }
    const cache = kind === Kind.Histogram ? this.#leFields : this.#quantileFields;
    const extraName = kind === Kind.Histogram ? "le" : "quantile";
    for (let i = 0; i < n; i++) {
      const at = value[2 + i] ?? NaN;
      let extra = cache.get(at);
      if (extra === undefined) {
        extra = labelField(extraName, formatOpenMetricsFloat(at));
        cache.set(at, extra);
      }
      this.#timeSeries(names.main, extra, value[2 + n + i] ?? NaN, stale);
    }
    this.#timeSeries(names.sum, EMPTY, value[0] ?? NaN, stale);
    this.#timeSeries(names.count, EMPTY, value[1] ?? NaN, stale);
    return true;
  }

  /**
   * One TimeSeries: the key's labels with `__name__` and `extra` merged in at their sorted places, then
   * one sample. Its size is known from {@link #readKey}, so it is written straight into the request,
   * with nothing back-patched and no intermediate copy.
   */
  #timeSeries(name: Uint8Array, extra: Uint8Array, value: number, stale: boolean): void {
    if (this.#batchSeries >= this.#max) this.#flush(); // only when one expansion exceeds the limit
    const out = this.#out;
    const size = this.#labelsSize + name.length + extra.length + this.#sampleSize;
    // One reservation for the whole field: the writer's checks would otherwise run per label.
    let p = out.reserve(1 + varintSize(size) + size);
    const buf = out.buffer;
    const beforeName = this.#beforeName;
    const beforeExtra = this.#beforeExtra;
    buf[p++] = KEY_TIMESERIES;
    p = putVarint(buf, p, size);
    p = this.#putLabels(buf, p, 0, beforeName);
    p = putBytes(buf, p, name);
    p = this.#putLabels(buf, p, beforeName, beforeExtra);
    p = putBytes(buf, p, extra);
    p = this.#putLabels(buf, p, beforeExtra, this.#labelCount);
    p = putBytes(buf, p, this.#sampleHead);
    if (stale) out.bits64At(p, STALE_NAN_BITS);
    else out.doubleAt(p, value);
    putBytes(buf, p + 8, this.#sampleTail);
    this.#batchSeries++;
    this.#series++;
    if (stale) this.#stale++;
  }

  /** Writes the key's labels `[from, to)` as `TimeSeries.labels` fields at `buf[p]`. */
  #putLabels(buf: Uint8Array, p: number, from: number, to: number): number {
    const key = this.#key;
    const ranges = this.#ranges;
    for (let l = from; l < to; l++) {
      const r = l * RANGE_STRIDE;
      const nameStart = ranges[r + RANGE_NAME_START] ?? 0;
      const nameEnd = ranges[r + RANGE_NAME_END] ?? 0;
      const valueStart = ranges[r + RANGE_VALUE_START] ?? 0;
      const valueEnd = ranges[r + RANGE_VALUE_END] ?? 0;
      const valueLen = ranges[r + RANGE_VALUE_LEN] ?? 0;
      buf[p++] = KEY_LABELS;
      p = putVarint(buf, p, ranges[r + RANGE_LABEL_LEN] ?? 0);
      buf[p++] = KEY_NAME;
      p = putVarint(buf, p, nameEnd - nameStart);
      for (let i = nameStart; i < nameEnd; i++) buf[p++] = key[i] ?? 0;
      buf[p++] = KEY_VALUE;
      p = putVarint(buf, p, valueLen);
      if (valueLen === valueEnd - valueStart) {
        for (let i = valueStart; i < valueEnd; i++) buf[p++] = key[i] ?? 0;
      } else {
        p = putUnescaped(buf, p, key, valueStart, valueEnd);
      }
    }
    return p;
  }

  /**
   * Reads a canonical label key (`a="x",b="y\"z"`, the grammar of `labelKey` / `parseLabelKey` in
   * labels.ts) into byte ranges of its UTF-8 form, without allocating pairs or substrings. One native
   * `encodeInto` plus a byte scan is several times faster than walking the string with `charCodeAt`,
   * and UTF-8 keeps the syntax characters as single bytes. Checks what a receiver would reject the
   * whole request for (names, order, duplicates) and drops empty values, as Prometheus does.
   */
  #readKey(key: string, extraName: Uint8Array | null): Status {
    if (this.#key.length < key.length * 3) this.#key = new Uint8Array(key.length * 3 + 64);
    const kb = this.#key;
    const n = this.#utf8.encodeInto(key, kb).written;
    let ranges = this.#ranges;
    let count = 0;
    let size = 0;
    let beforeName = 0;
    let beforeExtra = 0;
    let prevStart = -1;
    let prevEnd = -1;
    let i = 0;
    while (i < n) {
      // A quoted name is a UTF-8 name (legacy names are written bare): remote write 1.0 cannot carry it.
      // Non-ASCII bytes fail the name check too.
      if (!isLabelNameStart(kb[i] ?? 0)) return Status.InvalidName;
      const nameStart = i++;
      let c = 0;
      while (i < n && (c = kb[i] ?? 0) !== EQUALS) {
        if (!isLabelNameChar(c)) return Status.InvalidName;
        i++;
      }
      const nameEnd = i;
      if (kb[i + 1] !== QUOTE) return Status.Malformed;
      i += 2;
      const valueStart = i;
      let escapes = 0;
      while (i < n && (c = kb[i] ?? 0) !== QUOTE) {
        if (c === BACKSLASH) {
          escapes++;
          i += 2;
        } else {
          i++;
        }
      }
      if (i >= n) return Status.Malformed;
      const valueEnd = i;
      i++;
      if (i < n) {
        if (kb[i] !== COMMA) return Status.Malformed;
        i++;
      }
      if (prevStart >= 0) {
        const order = compareBytes(kb, prevStart, prevEnd, kb, nameStart, nameEnd);
        if (order === 0) return Status.Duplicate;
        if (order > 0) return Status.Malformed;
      }
      prevStart = nameStart;
      prevEnd = nameEnd;
      if (valueEnd === valueStart) continue; // Prometheus treats an empty value as no label
      const vsName = compareBytes(kb, nameStart, nameEnd, NAME_BYTES, 0, NAME_BYTES.length);
      if (vsName === 0) return Status.Duplicate;
      if (vsName < 0) beforeName = count + 1;
      if (extraName !== null) {
        const vsExtra = compareBytes(kb, nameStart, nameEnd, extraName, 0, extraName.length);
        if (vsExtra === 0) return Status.Duplicate;
        if (vsExtra < 0) beforeExtra = count + 1;
      }
      const r = count * RANGE_STRIDE;
      if (r + RANGE_STRIDE > ranges.length) {
        const grown = new Int32Array(ranges.length * 2);
        grown.set(ranges);
        ranges = this.#ranges = grown;
      }
      const nameLen = nameEnd - nameStart;
      const valueLen = valueEnd - valueStart - escapes;
      const labelLen = 2 + varintSize(nameLen) + nameLen + varintSize(valueLen) + valueLen;
      ranges[r + RANGE_NAME_START] = nameStart;
      ranges[r + RANGE_NAME_END] = nameEnd;
      ranges[r + RANGE_VALUE_START] = valueStart;
      ranges[r + RANGE_VALUE_END] = valueEnd;
      ranges[r + RANGE_VALUE_LEN] = valueLen;
      ranges[r + RANGE_LABEL_LEN] = labelLen;
      size += 1 + varintSize(labelLen) + labelLen;
      count++;
    }
    this.#labelCount = count;
    this.#labelsSize = size;
    this.#beforeName = beforeName;
    // `__name__` sorts before `le` and `quantile`, so this never puts the extra label before the name.
    this.#beforeExtra = extraName === null ? beforeName : beforeExtra;
    return Status.Ok;
  }

  /**
   * Like {@link #readKey} for label pairs whose names need not be legacy (`allow-utf-8`): the names
   * and unescaped values are laid out in the key buffer and the ranges point at them.
   */
  #readPairs(pairs: string[], extraName: Uint8Array | null): Status {
    const order: number[] = [];
    for (let i = 0; i < pairs.length; i += 2) if ((pairs[i + 1] ?? "") !== "") order.push(i);
    const bytes = pairs.map((p) => this.#utf8.encode(p));
    order.sort((a, b) => {
      const x = bytes[a] ?? EMPTY;
      const y = bytes[b] ?? EMPTY;
      return compareBytes(x, 0, x.length, y, 0, y.length);
    });
    let total = 0;
    for (const i of order) total += (bytes[i]?.length ?? 0) + (bytes[i + 1]?.length ?? 0);
    if (this.#key.length < total) this.#key = new Uint8Array(total + 64);
    if (this.#ranges.length < order.length * RANGE_STRIDE) this.#ranges = new Int32Array(order.length * RANGE_STRIDE + RANGE_STRIDE);
    const kb = this.#key;
    const ranges = this.#ranges;
    let p = 0;
    let size = 0;
    let count = 0;
    let beforeName = 0;
    let beforeExtra = 0;
    let prev: Uint8Array | null = null;
    for (const i of order) {
      const name = bytes[i] ?? EMPTY;
      const value = bytes[i + 1] ?? EMPTY;
      if (name.length === 0) return Status.Malformed;
      if (prev !== null && compareBytes(prev, 0, prev.length, name, 0, name.length) === 0) return Status.Duplicate;
      prev = name;
      const vsName = compareBytes(name, 0, name.length, NAME_BYTES, 0, NAME_BYTES.length);
      if (vsName === 0) return Status.Duplicate;
      if (vsName < 0) beforeName = count + 1;
      if (extraName !== null) {
        const vsExtra = compareBytes(name, 0, name.length, extraName, 0, extraName.length);
        if (vsExtra === 0) return Status.Duplicate;
        if (vsExtra < 0) beforeExtra = count + 1;
      }
      const r = count * RANGE_STRIDE;
      kb.set(name, p);
      ranges[r + RANGE_NAME_START] = p;
      ranges[r + RANGE_NAME_END] = p + name.length;
      p += name.length;
      kb.set(value, p);
      ranges[r + RANGE_VALUE_START] = p;
      ranges[r + RANGE_VALUE_END] = p + value.length;
      ranges[r + RANGE_VALUE_LEN] = value.length;
      p += value.length;
      const labelLen = 2 + varintSize(name.length) + name.length + varintSize(value.length) + value.length;
      ranges[r + RANGE_LABEL_LEN] = labelLen;
      size += 1 + varintSize(labelLen) + labelLen;
      count++;
    }
    this.#labelCount = count;
    this.#labelsSize = size;
    this.#beforeName = beforeName;
    this.#beforeExtra = extraName === null ? beforeName : beforeExtra;
    return Status.Ok;
  }

  #drop(reason: DropReason): false {
    this.#dropped[reason]++;
    return false;
  }

  /** Closes the current request: appends the pending metadata and copies the body out. */
  #flush(): void {
    const out = this.#out;
    for (const family of this.#pendingMetadata) {
      out.byte(KEY_METADATA);
      const mark = out.beginLength();
      const type = METADATA_TYPE[family.type];
      if (type !== 0) {
        out.byte(KEY_META_TYPE);
        out.varint(type);
      }
      out.byte(KEY_META_NAME);
      out.string(family.name);
      if (family.help !== "") {
        out.byte(KEY_META_HELP);
        out.string(family.help);
      }
      if (family.unit !== "") {
        out.byte(KEY_META_UNIT);
        out.string(family.unit);
      }
      out.endLength(mark);
    }
    this.#batches.push({ body: out.finish(), series: this.#batchSeries, samples: this.#batchSeries });
    out.reset();
    this.#pendingMetadata.length = 0;
    this.#batchSeries = 0;
  }
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

function kindOf(type: MetricType): Kind {
  return type === "histogram" ? Kind.Histogram : type === "summary" ? Kind.Summary : Kind.Scalar;
}

function nameLabels(name: string, kind: Kind): NameLabels {
  return {
    main: labelField("__name__", kind === Kind.Histogram ? `${name}_bucket` : name),
    sum: kind === Kind.Scalar ? EMPTY : labelField("__name__", `${name}_sum`),
    count: kind === Kind.Scalar ? EMPTY : labelField("__name__", `${name}_count`),
  };
}

/** A complete `TimeSeries.labels` field (key, length, Label message). */
function labelField(name: string, value: string): Uint8Array {
  const w = new ProtoWriter(64);
  w.byte(KEY_LABELS);
  const mark = w.beginLength();
  w.byte(KEY_NAME);
  w.string(name);
  w.byte(KEY_VALUE);
  w.string(value);
  w.endLength(mark);
  return w.finish();
}

/** Copies `src` to `buf[p]`; returns the position after it. */
function putBytes(buf: Uint8Array, p: number, src: Uint8Array): number {
  for (let i = 0; i < src.length; i++) buf[p++] = src[i] ?? 0;
  return p;
}

/** A key's escaped label value (`\\`, `\"`, `\n`, as `parseLabelKey` reads them), unescaped, at `buf[p]`. */
function putUnescaped(buf: Uint8Array, p: number, key: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const c = key[i] ?? 0;
    if (c !== BACKSLASH) {
      buf[p++] = c;
      continue;
    }
    const e = key[++i];
    buf[p++] = e === 0x6e ? 0x0a : e === QUOTE ? QUOTE : BACKSLASH;
  }
  return p;
}

/** `[a-zA-Z_:][a-zA-Z0-9_:]*`, the metric names remote write 1.0 receivers accept. */
function isMetricName(s: string): boolean {
  if (s.length === 0) return false;
  const first = s.charCodeAt(0);
  if (!isLabelNameStart(first) && first !== 0x3a) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isLabelNameChar(c) && c !== 0x3a) return false;
  }
  return true;
}

/** `[a-zA-Z_]`; checked on char codes so a key's names are validated in place. */
function isLabelNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

/** `[a-zA-Z0-9_]` */
function isLabelNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || (c >= 0x30 && c <= 0x39);
}

/**
 * Byte order of `a[aStart, aEnd)` and `b[bStart, bEnd)`. For the ASCII names compared here it is the
 * code-unit order `labelKey` sorts by.
 */
function compareBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): number {
  const aLen = aEnd - aStart;
  const bLen = bEnd - bStart;
  const n = aLen < bLen ? aLen : bLen;
  for (let i = 0; i < n; i++) {
    const d = (a[aStart + i] ?? 0) - (b[bStart + i] ?? 0);
    if (d !== 0) return d;
  }
  return aLen - bLen;
}
