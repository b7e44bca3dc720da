import react from "@vitejs/plugin-react";
import { defineProject } from "vitest/config";

/**
 * Unit and component tests of the dashboard; the browser test has its own config. Pure modules run
 * in Node; component tests opt into jsdom with a `@vitest-environment jsdom` comment.
 */
export default defineProject({
  plugins: [react()],
  test: {
    name: "dashboard",
    environment: "node",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["./src/test-setup.ts"],
  },
});
