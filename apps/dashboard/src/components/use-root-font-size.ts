/** The page's root font size in pixels, which the CSS scales with the screen (laptop to wall). */
import { useLayoutEffect, useMemo, useState } from "react";

/** Used until the browser can be asked (server render, jsdom). */
export const DEFAULT_ROOT_FONT_PX = 16;

/** Reads the root font size now. */
export function readRootFontPx(): number {
  const px = Number.parseFloat(getComputedStyle(document.documentElement).fontSize);
  return Number.isFinite(px) && px > 0 ? px : DEFAULT_ROOT_FONT_PX;
}

/** The root font size, re-read when the window is resized. */
export function useRootFontPx(): number {
  const [px, setPx] = useState(DEFAULT_ROOT_FONT_PX);
  useLayoutEffect(() => {
    const measure = () => setPx(readRootFontPx());
    measure();
    window.addEventListener("resize", measure);
    return () => window.removeEventListener("resize", measure);
  }, []);
  return px;
}

/** Chart text size: follows the page's font size, which grows on a wall screen. */
export function useChartFont(): { size: number } {
  const px = useRootFontPx();
  return useMemo(() => ({ size: Math.round(px * 0.8) }), [px]);
}
