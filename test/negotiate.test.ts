// Scrape negotiation (negotiate.ts): format, escaping and Content-Type from Accept and the query,
// with the Accept headers real Prometheus servers send.
import { describe, expect, it } from "vitest";
import { GatewayError } from "../src/common/errors";
import { type Negotiation, negotiateExposition } from "../src/wire/exposition/negotiate";

/** Prometheus 2.42 (scrape/scrape.go `scrapeAcceptHeader`). */
const PROMETHEUS_2_42 =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/** Prometheus 2.42 with native histograms on (`scrapeAcceptHeaderWithProtobuf`). */
const PROMETHEUS_2_42_PROTOBUF =
  "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/**
 * Prometheus 3.0.0's default (UTF-8 validation): `acceptHeader` appends `;escaping=allow-utf-8`
 * to every range, and its text 1.0.0 range already had one (v3.0.0 scrape/scrape.go, config/config.go).
 */
const PROMETHEUS_3_0 =
  "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;q=0.2";
/** Current Prometheus 3 defaults (scrape/scrape_test.go TestAcceptHeader, "default scrape protocols with no escaping"). */
const PROMETHEUS_3 =
  "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
/** Prometheus 3 with `metric_name_escaping_scheme: underscores` (or legacy name validation). */
const PROMETHEUS_3_UNDERSCORES =
  "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
/** Prometheus 3, protobuf first (native histograms), `dots`. */
const PROMETHEUS_3_PROTOBUF_DOTS =
  "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=dots;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=dots;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
/** Prometheus 3, protobuf first, UTF-8 names. */
const PROMETHEUS_3_PROTOBUF =
  "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";

const TEXT_UNDERSCORES: Negotiation = { format: "text", escaping: "underscores", contentType: "text/plain; version=0.0.4; charset=utf-8; escaping=underscores" };

function negotiate(accept: string | null, format: string | null = null, escaping: string | null = null): Negotiation {
  return negotiateExposition(accept, format, escaping);
}

function badRequest(format: string | null, escaping: string | null): string {
  try {
    negotiate(PROMETHEUS_3, format, escaping);
  } catch (e) {
    if (e instanceof GatewayError && e.name === "BadRequest") return e.message;
    throw e;
  }
  throw new Error("expected BadRequest");
}

describe("negotiateExposition: real Prometheus Accept headers", () => {
  it("Prometheus 2.42 gets text 0.0.4 with names escaped to underscores", () => {
    expect(negotiate(PROMETHEUS_2_42)).toEqual(TEXT_UNDERSCORES);
    expect(negotiate(PROMETHEUS_2_42_PROTOBUF)).toEqual(TEXT_UNDERSCORES);
  });

  it("Prometheus 3 gets text 1.0.0 with UTF-8 names (its text range says escaping=allow-utf-8)", () => {
    const utf8: Negotiation = { format: "text", escaping: "allow-utf-8", contentType: "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8" };
    expect(negotiate(PROMETHEUS_3)).toEqual(utf8);
    expect(negotiate(PROMETHEUS_3_0)).toEqual(utf8);
    expect(negotiate(PROMETHEUS_3_PROTOBUF)).toEqual(utf8);
  });

  it("Prometheus 3 configured to escape gets its scheme", () => {
    expect(negotiate(PROMETHEUS_3_UNDERSCORES)).toEqual({ format: "text", escaping: "underscores", contentType: "text/plain; version=1.0.0; charset=utf-8; escaping=underscores" });
    expect(negotiate(PROMETHEUS_3_PROTOBUF_DOTS)).toEqual({ format: "text", escaping: "dots", contentType: "text/plain; version=1.0.0; charset=utf-8; escaping=dots" });
  });

  it("format=openmetrics takes the best OpenMetrics range and its escaping", () => {
    expect(negotiate(PROMETHEUS_2_42, "openmetrics")).toEqual({
      format: "openmetrics",
      escaping: "underscores",
      contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
    });
    expect(negotiate(PROMETHEUS_3, "openmetrics")).toEqual({
      format: "openmetrics",
      escaping: "allow-utf-8",
      contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8",
    });
    expect(negotiate(PROMETHEUS_3_PROTOBUF_DOTS, "openmetrics").escaping).toBe("dots");
  });
});

describe("negotiateExposition: format", () => {
  it("is text 0.0.4 with underscores without an Accept header, or with an empty or unusable one", () => {
    for (const accept of [null, "", "   ", ",,", "garbage", "application/json", "image/*", "text/html"]) expect(negotiate(accept)).toEqual(TEXT_UNDERSCORES);
  });

  it("is text for wildcards and any text/plain range", () => {
    expect(negotiate("*/*")).toEqual(TEXT_UNDERSCORES);
    expect(negotiate("*")).toEqual(TEXT_UNDERSCORES);
    expect(negotiate("text/*")).toEqual(TEXT_UNDERSCORES);
    expect(negotiate("text/plain")).toEqual(TEXT_UNDERSCORES);
    expect(negotiate("TEXT/Plain; Version=0.0.4")).toEqual(TEXT_UNDERSCORES);
    expect(negotiate("application/openmetrics-text, text/plain;q=0.001")).toEqual(TEXT_UNDERSCORES);
  });

  it("is OpenMetrics when the Accept header accepts OpenMetrics but not text/plain", () => {
    expect(negotiate("application/openmetrics-text; version=1.0.0")).toEqual({
      format: "openmetrics",
      escaping: "underscores",
      contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
    });
    expect(negotiate("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8, text/plain;q=0").escaping).toBe("allow-utf-8");
    expect(negotiate("application/*").format).toBe("openmetrics");
  });

  it("reads an OpenMetrics range without a version as 0.0.1 and one without text as 0.0.4, as client_golang does", () => {
    expect(negotiate("application/openmetrics-text").contentType).toBe("application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=underscores");
    expect(negotiate("application/openmetrics-text;version=0.0.1").contentType).toBe("application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=underscores");
    expect(negotiate("text/plain;escaping=allow-utf-8").contentType).toBe("text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8");
  });

  it("serves no version it does not write: such a range is as good as none", () => {
    expect(negotiate("application/openmetrics-text;version=2.0.0")).toEqual(TEXT_UNDERSCORES);
    expect(negotiate("text/plain;version=2.0.0")).toEqual(TEXT_UNDERSCORES);
    expect(negotiate("application/openmetrics-text;version=2.0.0;escaping=allow-utf-8,application/openmetrics-text;version=1.0.0;q=0.5").contentType).toBe(
      "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
    );
  });

  it("respects q=0 and lets the most specific range decide", () => {
    // text/plain refused outright: OpenMetrics, although */* would match text.
    expect(negotiate("text/plain;q=0, application/openmetrics-text;version=1.0.0").format).toBe("openmetrics");
    expect(negotiate("text/*;q=0, */*").format).toBe("openmetrics");
    // 0.0.4 refused, anything else welcome: text 1.0.0.
    expect(negotiate("text/plain;version=0.0.4;q=0, */*").contentType).toBe("text/plain; version=1.0.0; charset=utf-8; escaping=underscores");
    // Everything refused: the default.
    expect(negotiate("*/*;q=0")).toEqual(TEXT_UNDERSCORES);
  });

  it("takes the format query parameter over the Accept header", () => {
    expect(negotiate("text/plain", "openmetrics")).toEqual({
      format: "openmetrics",
      escaping: "underscores",
      contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
    });
    expect(negotiate("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8", "text")).toEqual(TEXT_UNDERSCORES);
    expect(negotiate(null, "text")).toEqual(TEXT_UNDERSCORES);
  });

  it("rejects an unknown format with the allowed values", () => {
    expect(badRequest("json", null)).toBe("format=json is not a format; use format=text or format=openmetrics");
    expect(badRequest("", null)).toBe("format= is not a format; use format=text or format=openmetrics");
    expect(badRequest("OpenMetrics", null)).toMatch(/use format=text or format=openmetrics/);
  });
});

describe("negotiateExposition: escaping", () => {
  it("quotes names only when the chosen range says escaping=allow-utf-8", () => {
    // The allow-utf-8 is on the OpenMetrics range; the text range is chosen.
    expect(negotiate("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8,text/plain;version=0.0.4;q=0.5")).toEqual(TEXT_UNDERSCORES);
    // On the text 0.0.4 range it counts (client_golang labels it version=0.0.4 too).
    expect(negotiate("text/plain;version=0.0.4;escaping=allow-utf-8")).toEqual({
      format: "text",
      escaping: "allow-utf-8",
      contentType: "text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8",
    });
    // On a wildcard that decides, too.
    expect(negotiate("*/*;escaping=allow-utf-8").escaping).toBe("allow-utf-8");
    // A wildcard with it ranks text 1.0.0 (which only it matches) below the 0.0.4 range without it.
    expect(negotiate("*/*;escaping=allow-utf-8;q=0.1,text/plain;version=0.0.4;q=0.5")).toEqual(TEXT_UNDERSCORES);
    // Ranked above, it gets text 1.0.0 and UTF-8 names.
    expect(negotiate("*/*;escaping=allow-utf-8,text/plain;version=0.0.4;q=0.5").contentType).toBe("text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8");
  });

  it("takes dots and values from the Accept header, and ignores an unknown scheme there", () => {
    expect(negotiate("text/plain;escaping=dots").contentType).toBe("text/plain; version=0.0.4; charset=utf-8; escaping=dots");
    expect(negotiate("text/plain;escaping=values").escaping).toBe("values");
    expect(negotiate('text/plain;escaping="values"').escaping).toBe("values");
    expect(negotiate("text/plain;escaping=utf-8")).toEqual(TEXT_UNDERSCORES);
    expect(negotiate("text/plain;escaping=")).toEqual(TEXT_UNDERSCORES);
  });

  it("takes the escaping query parameter over the Accept header", () => {
    expect(negotiate(PROMETHEUS_3, null, "underscores")).toEqual({ format: "text", escaping: "underscores", contentType: "text/plain; version=1.0.0; charset=utf-8; escaping=underscores" });
    expect(negotiate(PROMETHEUS_2_42, null, "dots")).toEqual({ format: "text", escaping: "dots", contentType: "text/plain; version=0.0.4; charset=utf-8; escaping=dots" });
    expect(negotiate(PROMETHEUS_3_PROTOBUF_DOTS, "openmetrics", "values")).toEqual({
      format: "openmetrics",
      escaping: "values",
      contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=values",
    });
  });

  it("rejects an unknown escaping, and allow-utf-8, in the query with the allowed values", () => {
    expect(badRequest(null, "utf-8")).toBe("escaping=utf-8 is not an escaping scheme; use escaping=underscores, escaping=dots or escaping=values");
    expect(badRequest(null, "")).toBe("escaping= is not an escaping scheme; use escaping=underscores, escaping=dots or escaping=values");
    expect(badRequest(null, "allow-utf-8")).toMatch(/^escaping=allow-utf-8 cannot be asked for in the query: .*Accept header says escaping=allow-utf-8.*; use escaping=underscores, escaping=dots or escaping=values$/);
    // The format is checked first.
    expect(badRequest("x", "y")).toMatch(/^format=x/);
  });
});

describe("negotiateExposition: Accept syntax", () => {
  it("does not split inside quoted parameter values, and skips malformed ranges and q values", () => {
    expect(negotiate('application/openmetrics-text;version=1.0.0;foo="a,text/plain;b"').format).toBe("openmetrics");
    expect(negotiate("text/plain;q=2, application/openmetrics-text;version=1.0.0").format).toBe("openmetrics");
    expect(negotiate("text/plain;q=abc, application/openmetrics-text;version=1.0.0").format).toBe("openmetrics");
    expect(negotiate("/plain, text/, application/openmetrics-text;version=1.0.0").format).toBe("openmetrics");
    expect(negotiate(" text/plain ; version = 0.0.4 ; q = 0.5 ").contentType).toBe(TEXT_UNDERSCORES.contentType);
  });

  it("ranks versions by q, ties going to text 0.0.4 and OpenMetrics 1.0.0", () => {
    expect(negotiate("text/plain;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.5").contentType).toBe(TEXT_UNDERSCORES.contentType);
    expect(negotiate("text/plain;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.5").contentType).toBe("text/plain; version=1.0.0; charset=utf-8; escaping=underscores");
    expect(negotiate("application/openmetrics-text;version=0.0.1;q=0.5,application/openmetrics-text;version=1.0.0;q=0.5").contentType).toMatch(/version=1\.0\.0/);
    expect(negotiate("application/openmetrics-text;version=0.0.1,application/openmetrics-text;version=1.0.0;q=0.5").contentType).toMatch(/version=0\.0\.1/);
  });
});
