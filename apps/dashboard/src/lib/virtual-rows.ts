/** Which rows of a fixed-row-height list to put in the DOM: the visible ones plus a margin. */

/** A half-open range of row indices `[start, end)`. */
export interface RowRange {
  start: number;
  end: number;
}

/**
 * Rows intersecting the viewport `[scrollTop, scrollTop + viewportHeight)`, widened by `overscan`
 * rows on each side so that fast scrolling does not show blank space for a frame.
 */
export function visibleRows(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  rowCount: number,
  overscan = 8,
): RowRange {
  if (rowCount <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + Math.max(0, viewportHeight)) / rowHeight);
  return {
    start: Math.max(0, Math.min(rowCount, first - overscan)),
    end: Math.max(0, Math.min(rowCount, last + overscan)),
  };
}
