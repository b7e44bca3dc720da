/** Redraws a chart at most ~10 times a second, whatever the rate of incoming windows. */
import { useEffect, useLayoutEffect, useRef } from "react";
import { createRedrawThrottle, type RedrawThrottle } from "../lib/redraw-throttle.ts";

/**
 * Calls `draw` (always the latest one passed) after any change of `deps`, throttled. The first
 * draw happens on mount.
 */
export function useThrottledRedraw(draw: () => void, deps: readonly unknown[]): void {
  const latestDraw = useRef(draw);
  useLayoutEffect(() => {
    latestDraw.current = draw;
  });
  const throttle = useRef<RedrawThrottle | null>(null);
  useEffect(() => {
    const t = createRedrawThrottle(() => latestDraw.current());
    throttle.current = t;
    t.markDirty();
    return () => {
      t.dispose();
      throttle.current = null;
    };
  }, []);
  useEffect(() => {
    throttle.current?.markDirty();
    // The caller's deps are the dirty signal.
  }, deps);
}
