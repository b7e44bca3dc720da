// @vitest-environment jsdom
import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useApiResource } from "./use-api-resource.ts";

/** A load whose answers the test settles one by one. */
function controlledLoad() {
  const calls: { resolve: (value: string) => void; reject: (error: Error) => void }[] = [];
  const load = vi.fn(
    () =>
      new Promise<string>((resolve, reject) => {
        calls.push({ resolve, reject });
      }),
  );
  return { load, calls };
}

/** Runs `change` and lets the promises it settled run their callbacks, inside act(). */
const settle = (change: () => void) =>
  act(async () => {
    change();
    await Promise.resolve();
  });

describe("useApiResource", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("loads, polls after each answer, keeps the data when a load fails, and reloads on demand", async () => {
    const { load, calls } = controlledLoad();
    const { result } = renderHook(() => useApiResource(load, ["api"], 5_000));
    expect(result.current.data).toBeNull();
    await settle(() => calls[0]!.resolve("first"));
    expect(result.current.data).toBe("first");
    // The next poll waits for the interval after the answer, not before.
    expect(load).toHaveBeenCalledTimes(1);
    await act(() => vi.advanceTimersByTimeAsync(5_000));
    expect(load).toHaveBeenCalledTimes(2);
    await settle(() => calls[1]!.reject(new Error("HTTP 503")));
    expect(result.current.data).toBe("first");
    expect(result.current.error).toContain("HTTP 503");
    act(() => result.current.reload());
    expect(load).toHaveBeenCalledTimes(3);
    await settle(() => calls[2]!.resolve("second"));
    expect(result.current).toMatchObject({ data: "second", error: null });
  });

  it("drops an answer that arrives after the dependencies changed, and stops on unmount", async () => {
    const { load, calls } = controlledLoad();
    const { result, rerender, unmount } = renderHook(
      ({ version }: { version: number }) => useApiResource(load, [version]),
      { initialProps: { version: 1 } },
    );
    rerender({ version: 2 });
    expect(load).toHaveBeenCalledTimes(2);
    await settle(() => calls[1]!.resolve("for version 2"));
    await settle(() => calls[0]!.resolve("stale, for version 1"));
    expect(result.current.data).toBe("for version 2");
    // Without pollMs nothing is read again by itself.
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(load).toHaveBeenCalledTimes(2);
    unmount();
  });
});
