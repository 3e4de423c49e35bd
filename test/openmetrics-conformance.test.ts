// The OpenMetrics parser test vectors: every case must parse or fail exactly as the suite says.
import { describe, expect, inject, it } from "vitest";
import { GatewayError } from "../src/common/errors";
import { parseExposition } from "../src/wire/exposition/parse";

// What test/setup/vectors.ts provides is typed in test/provided.d.ts.
const vectors = inject("openmetricsVectors");
const dir = inject("openmetricsVectorsDir");

/** How many cases the suite has; a different count means the vectors changed or were not all read. */
const EXPECTED_CASES = 211;

describe("OpenMetrics parser vectors", () => {
  if (!dir.found) {
    it.skip(`skipped: vectors not found at ${dir.path} (CI lays shared/ beside the checkout)`, () => {});
    return;
  }

  it(`has all ${EXPECTED_CASES} cases`, () => {
    expect(vectors.length).toBe(EXPECTED_CASES);
  });

  it.each(vectors.map((v) => [v.name, v] as const))("%s", (_name, vector) => {
    let error: unknown;
    try {
      parseExposition(vector.metrics, "openmetrics");
    } catch (e) {
      error = e;
    }
    if (vector.shouldParse) {
      expect(error).toBeUndefined();
      return;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).name).toBe("ParseError");
    expect((error as GatewayError).message).toMatch(/^line \d+, column \d+: \S/);
  });
});
