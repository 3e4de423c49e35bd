/**
 * Reads the OpenMetrics parser test vectors in Node (workerd tests have no filesystem) and
 * provides them to the tests: `../shared/vectors/openmetrics/parsers/<case>/{metrics,test.json}`.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

/** One parser test case: the body and whether a conforming parser accepts it. */
export interface OpenMetricsVector {
  name: string;
  metrics: string;
  shouldParse: boolean;
}

/**
 * The vectors sit in shared/, beside the project checkout (test/setup/ -> ../../..);
 * OPENMETRICS_VECTORS_DIR points elsewhere.
 */
export const VECTORS_DIR =
  process.env.OPENMETRICS_VECTORS_DIR ?? fileURLToPath(new URL("../../../shared/vectors/openmetrics/parsers/", import.meta.url));

/** Reads every case folder that has both a `metrics` file and a `test.json`. */
export function readVectors(dir: string): OpenMetricsVector[] {
  const vectors: OpenMetricsVector[] = [];
  for (const name of readdirSync(dir).sort()) {
    const caseDir = join(dir, name);
    if (!existsSync(join(caseDir, "test.json"))) continue;
    const spec = JSON.parse(readFileSync(join(caseDir, "test.json"), "utf8")) as { file?: string; shouldParse?: unknown };
    if (typeof spec.shouldParse !== "boolean") throw new Error(`${caseDir}/test.json has no boolean shouldParse`);
    const metrics = readFileSync(join(caseDir, spec.file ?? "metrics"), "utf8");
    vectors.push({ name, metrics, shouldParse: spec.shouldParse });
  }
  return vectors;
}

/**
 * A missing folder is not an error here (that would stop every workers test): it is provided as
 * `found: false`, and test/openmetrics-conformance.test.ts fails, naming the folder.
 */
export default function setup(project: TestProject): void {
  const found = existsSync(VECTORS_DIR);
  project.provide("openmetricsVectorsDir", { path: VECTORS_DIR, found });
  project.provide("openmetricsVectors", found ? readVectors(VECTORS_DIR) : []);
}
