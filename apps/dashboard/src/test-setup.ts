/** Component tests unmount what they rendered, so one test's DOM never leaks into the next. */
import { afterEach } from "vitest";

afterEach(async () => {
  // Only jsdom tests render; Node tests must not load the DOM testing library.
  if (typeof document === "undefined") return;
  const { cleanup } = await import("@testing-library/react");
  cleanup();
});
