/**
 * The alert log's follow rule: it follows new lines while the analyst is at the bottom, stops the
 * moment they scroll up, and follows again when they return to the bottom or jump to the latest.
 *
 * "Up" is judged by direction, not by distance from the bottom: lines arrive between the moment
 * the log grows and the moment it scrolls, so a following log is briefly "not at the bottom"
 * without anyone having touched it.
 */

/** Where a scroll container is. */
export interface ScrollMetrics {
  scrollTop: number;
  scrollHeight: number;
  clientHeight: number;
}

/** The follow state of one log. */
export interface AutoscrollState {
  following: boolean;
  /** scrollTop at the last scroll event, to tell the direction of the next one. */
  lastScrollTop: number;
}

/** Pixels from the bottom that still count as "at the bottom" (sub-pixel scroll positions). */
export const BOTTOM_TOLERANCE_PX = 4;

/** A log starts following. */
export const initialAutoscroll: AutoscrollState = { following: true, lastScrollTop: 0 };

/** Whether the container shows its last pixel row. */
export function isAtBottom(m: ScrollMetrics, tolerance = BOTTOM_TOLERANCE_PX): boolean {
  return m.scrollHeight - m.clientHeight - m.scrollTop <= tolerance;
}

/** The state after a scroll event (the analyst's or our own). */
export function onScroll(state: AutoscrollState, m: ScrollMetrics): AutoscrollState {
  if (isAtBottom(m)) return { following: true, lastScrollTop: m.scrollTop };
  if (m.scrollTop < state.lastScrollTop - 0.5)
    return { following: false, lastScrollTop: m.scrollTop };
  return { following: state.following, lastScrollTop: m.scrollTop };
}

/**
 * The state after a gesture that means "up" before any scroll event fires (wheel up, PageUp,
 * ArrowUp, Home): following stops at once, even when the log is too short to scroll.
 */
export function onScrollUpIntent(state: AutoscrollState): AutoscrollState {
  return state.following ? { ...state, following: false } : state;
}

/** The state after "jump to latest". */
export function onJumpToLatest(state: AutoscrollState): AutoscrollState {
  return { ...state, following: true };
}

/** Keys that scroll a focused log upwards. */
export function isScrollUpKey(key: string): boolean {
  return key === "ArrowUp" || key === "PageUp" || key === "Home";
}

/**
 * Where the container should scroll to after new lines were rendered: the bottom when following,
 * otherwise the same lines as before, shifted up by the rows that left the top of the log (so the
 * line the analyst reads stays put while old lines are dropped).
 */
export function scrollTopAfterAppend(
  state: AutoscrollState,
  m: ScrollMetrics,
  rowsRemovedAtTop: number,
  rowHeight: number,
): number {
  if (state.following) return Math.max(0, m.scrollHeight - m.clientHeight);
  return Math.max(0, m.scrollTop - rowsRemovedAtTop * rowHeight);
}
