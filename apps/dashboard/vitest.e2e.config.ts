import { defineConfig } from "vitest/config";

/**
 * The browser test: the whole stack through the launcher, driven in headless Chromium. Run from
 * the repository root with `vitest run --config apps/dashboard/vitest.e2e.config.ts`.
 */
export default defineConfig({
  test: {
    name: "dashboard-e2e",
    root: import.meta.dirname,
    include: ["e2e/**/*.e2e.test.ts"],
    environment: "node",
    // One stack at a time: it binds ports and builds the dashboard.
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 360_000,
  },
});
