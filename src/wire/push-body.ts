/**
 * Push bodies by content type: delimited protobuf (the Go client's default), OpenMetrics, or
 * Prometheus text (also as a JSON string of it, as the seed README's promjs example posts).
 */
import type { ExpositionFormat } from "../../rpc";
import { GatewayError } from "../common/errors";
import type { Family, LabelPairs } from "../common/model";
import { utf8 } from "./body";
import { parseExposition } from "./exposition/parse";
import { parseDelimitedProtobuf } from "./exposition/protobuf";
import { withGroupingLabels } from "./grouping";

/** Media types a push body may be declared as (curl's `--data-binary` sends form-urlencoded). */
const PUSH_MEDIA_TYPES = new Set(["", "text/plain", "application/openmetrics-text", "application/json", "application/x-www-form-urlencoded"]);

/** The Go client's default push body: length-delimited `io.prometheus.client.MetricFamily` messages. */
const PROTOBUF_MEDIA_TYPE = "application/vnd.google.protobuf";

/** The families of a push body, by its content type, keyed with the grouping labels already in. */
export function parseBody(body: string | Uint8Array, contentType: string | undefined, group: LabelPairs): Family[] {
  const media = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (media === PROTOBUF_MEDIA_TYPE) {
    if (!/encoding\s*=\s*delimited/i.test(contentType ?? "")) {
      throw new GatewayError("UnsupportedMediaType", `Content-Type "${contentType}": only delimited protobuf (encoding=delimited) is read`);
    }
    return withGroupingLabels(parseDelimitedProtobuf(typeof body === "string" ? new TextEncoder().encode(body) : body), group);
  }
  const text = typeof body === "string" ? body : utf8(body);
  return parseExposition(decodeJsonString(text), formatOf(contentType, text), { allowTimestamps: false, rejectUnsupported: true, group });
}

/**
 * The exposition format of a push: OpenMetrics when the content type says so, or when there is no
 * telling content type and the body ends in `# EOF` (prom-client's OpenMetrics registry sends none).
 */
export function formatOf(contentType: string | undefined, body: string): ExpositionFormat {
  const media = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!PUSH_MEDIA_TYPES.has(media)) {
    throw new GatewayError(
      "UnsupportedMediaType",
      `Content-Type "${media}" is not supported; send Prometheus text (text/plain; version=0.0.4), OpenMetrics (application/openmetrics-text) or delimited protobuf`,
    );
  }
  if (media === "application/openmetrics-text") return "openmetrics";
  if (media === "text/plain" && /version\s*=\s*0\.0\.4/.test(contentType ?? "")) return "text";
  return /# EOF\s*$/.test(body.slice(-16)) ? "openmetrics" : "text";
}

/**
 * The seed README's promjs example posts `JSON.stringify(registry.metrics())`: a JSON string whose
 * content is exposition text. Exposition text never starts with `"`, so such a body is unambiguous.
 */
export function decodeJsonString(body: string): string {
  const start = body.trimStart();
  if (!start.startsWith('"')) return body;
  let decoded: unknown;
  try {
    decoded = JSON.parse(start);
  } catch {
    throw new GatewayError("ParseError", "line 1, column 1: the body starts with '\"' but is not a JSON string; send exposition text, or JSON.stringify() of it");
  }
  if (typeof decoded !== "string") throw new GatewayError("ParseError", "line 1, column 1: the body is JSON but not a string; send exposition text");
  return decoded;
}

