import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        // Unit and boundary tests, inside workerd.
        plugins: [
          cloudflareTest({
            main: "./src/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Tests must not depend on a developer's .dev.vars: pin what the suite relies on.
              bindings: {
                MAX_BODY_BYTES: "1048576",
                MAX_SERIES: "20000",
                MAX_SERIES_PER_FAMILY: "100000",
                MAX_SHARD_BYTES: "67108864",
                SERIES_TTL_SECONDS: "0",
                SOURCE_TTL_SECONDS: "3600",
                REMOTE_WRITE_NAME_ESCAPING: "underscores",
                // One shard unless a test says otherwise (test/shards.test.ts spreads over several).
                SHARDS: "1",
                // Nothing listens here: tests that export replace fetch with a scripted receiver.
                SECRET_PROM_ENDPOINT: "http://receiver.test/api/v1/write",
                SECRET_PROM_USER: "",
                SECRET_PROM_TOKEN: "",
              },
            },
          }),
        ],
        test: {
          name: "workers",
          globalSetup: ["./test/setup/vectors.ts", "./test/setup/protobuf.ts"],
          include: ["test/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // Integration tests in Node: real `wrangler dev`, real promtool and Prometheus on 127.0.0.1.
        test: {
          name: "node",
          environment: "node",
          include: ["test/integration/*.test.ts", "test/node/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
