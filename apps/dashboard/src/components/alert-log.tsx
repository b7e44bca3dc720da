/**
 * The alert log: one line per scored window (or per anomaly), newest at the bottom. Only the rows
 * in view are in the DOM, so 2,000 lines scroll and update without jank; it follows new lines
 * while the analyst is at the bottom and stops the moment they scroll up.
 */
import type { WindowResult } from "@floodwatch/core/stream-contracts";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import {
  initialAutoscroll,
  isScrollUpKey,
  onJumpToLatest,
  onScroll,
  onScrollUpIntent,
  scrollTopAfterAppend,
  type AutoscrollState,
} from "../lib/autoscroll.ts";
import {
  formatClock,
  formatLineRange,
  formatScore,
  formatSignal,
  formatTopFeature,
  formatTopVictim,
  formatUtcSeconds,
  NO_VALUE,
} from "../lib/format.ts";
import type { CappedHistory } from "../lib/capped-history.ts";
import type { WindowHistories } from "../lib/live-store.ts";
import { visibleRows } from "../lib/virtual-rows.ts";
import { buttonClass } from "./ui.tsx";
import { useRootFontPx } from "./use-root-font-size.ts";

/** Row height in rem; rows are one line high so the virtual list can place them by index. */
const ROW_HEIGHT_REM = 1.75;

/** Columns of the log, shared by the header and the rows. */
const GRID =
  "grid grid-cols-[5rem_minmax(4rem,1fr)_13.5rem] " +
  "md:grid-cols-[5rem_minmax(5rem,0.6fr)_4rem_7.5rem_13.5rem_minmax(9rem,1fr)_minmax(12rem,1.6fr)_4.5rem] " +
  "items-center gap-x-3 border-l-4 px-2";

/** What the log shows while the analyst reads back: a copy taken when they scrolled up. */
interface FrozenLog {
  history: CappedHistory<WindowResult>;
  rows: WindowResult[];
  /** Lines ever appended to the history when it was copied, to count the new ones since. */
  total: number;
}

const totalOf = (history: CappedHistory<WindowResult>) => history.evicted + history.size;

/** Props of {@link AlertLog}. */
export interface AlertLogProps {
  histories: WindowHistories;
  /** Changes whenever a history changed (the histories themselves are mutated in place). */
  windowsVersion: number;
  anomaliesOnly: boolean;
  onAnomaliesOnlyChange: (value: boolean) => void;
  uploadName: (uploadId: string) => string;
  thresholdOf: (modelVersion: string) => number | null;
  /** Opens a window's details. */
  onSelect?: (w: WindowResult) => void;
}

/** The alert log panel. */
export function AlertLog({
  histories,
  windowsVersion,
  anomaliesOnly,
  onAnomaliesOnlyChange,
  uploadName,
  thresholdOf,
  onSelect,
}: AlertLogProps) {
  const history = anomaliesOnly ? histories.anomalies : histories.all;
  const scrollRef = useRef<HTMLDivElement>(null);
  const follow = useRef<AutoscrollState>(initialAutoscroll);
  const pointerDown = useRef(false);
  const lastEvicted = useRef({ history, evicted: history.evicted });
  const [following, setFollowing] = useState(true);
  const [frozen, setFrozen] = useState<FrozenLog | null>(null);
  const [viewport, setViewport] = useState({ scrollTop: 0, height: 480 });

  const updateFollow = useCallback(
    (next: AutoscrollState) => {
      const was = follow.current.following;
      follow.current = next;
      if (was === next.following) return;
      setFollowing(next.following);
      // At 2,000 windows a second the whole history turns over every second: once the analyst
      // scrolls up, the log holds still on what they were reading until they come back down.
      setFrozen(
        next.following ? null : { history, rows: history.toArray(), total: totalOf(history) },
      );
    },
    [history],
  );

  // Another history (selection, anomalies-only toggle) starts again at its latest line.
  useLayoutEffect(() => {
    if (frozen === null || frozen.history === history) return;
    follow.current = onJumpToLatest(follow.current);
    setFollowing(true);
    setFrozen(null);
  }, [history, frozen]);

  // Rows are sized in rem so the log scales with the page font (wall screens).
  const rowHeight = Math.round(useRootFontPx() * ROW_HEIGHT_REM);
  useLayoutEffect(() => {
    const measure = () => {
      const el = scrollRef.current;
      if (el !== null) setViewport({ scrollTop: el.scrollTop, height: el.clientHeight || 480 });
    };
    measure();
    window.addEventListener("resize", measure);
    return () => window.removeEventListener("resize", measure);
  }, []);

  // After new lines render: follow to the bottom, or keep the lines in view still.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (el === null) return;
    const previous = lastEvicted.current;
    const live = frozen === null;
    const removedAtTop =
      live && previous.history === history ? history.evicted - previous.evicted : 0;
    lastEvicted.current = { history, evicted: history.evicted };
    if (pointerDown.current) return;
    const target = scrollTopAfterAppend(
      follow.current,
      { scrollTop: el.scrollTop, scrollHeight: el.scrollHeight, clientHeight: el.clientHeight },
      removedAtTop,
      rowHeight,
    );
    if (Math.abs(target - el.scrollTop) >= 1) el.scrollTop = target;
    // Whatever moved the log here (this effect, or the browser clamping a shorter log) was not
    // the analyst: the next scroll event must not read it as a scroll up.
    follow.current = { ...follow.current, lastScrollTop: el.scrollTop };
    setViewport((v) =>
      v.scrollTop === el.scrollTop && v.height === (el.clientHeight || v.height)
        ? v
        : { scrollTop: el.scrollTop, height: el.clientHeight || v.height },
    );
  }, [windowsVersion, history, rowHeight, frozen]);

  useEffect(() => {
    const release = () => {
      pointerDown.current = false;
    };
    window.addEventListener("pointerup", release);
    return () => window.removeEventListener("pointerup", release);
  }, []);

  const handleScroll = () => {
    const el = scrollRef.current;
    if (el === null) return;
    updateFollow(
      onScroll(follow.current, {
        scrollTop: el.scrollTop,
        scrollHeight: el.scrollHeight,
        clientHeight: el.clientHeight,
      }),
    );
    setViewport({ scrollTop: el.scrollTop, height: el.clientHeight || viewport.height });
  };

  const jumpToLatest = () => {
    updateFollow(onJumpToLatest(follow.current));
    const el = scrollRef.current;
    if (el !== null) el.scrollTop = el.scrollHeight;
  };

  const count = frozen === null ? history.size : frozen.rows.length;
  const newLines = frozen === null ? 0 : Math.max(0, totalOf(history) - frozen.total);
  const range = visibleRows(viewport.scrollTop, viewport.height, rowHeight, count);
  const rows: WindowResult[] = [];
  for (let i = range.start; i < range.end; i += 1) {
    rows.push((frozen === null ? history.at(i) : frozen.rows[i]) as WindowResult);
  }
  const basis = timeBasis(rows);

  return (
    <section
      aria-labelledby="alert-log-title"
      data-testid="alert-log-panel"
      className="flex h-full min-h-0 min-w-0 flex-col rounded-lg border border-slate-800 bg-slate-900 p-3"
    >
      <div className="mb-2 flex flex-wrap items-center justify-between gap-2">
        <h2
          id="alert-log-title"
          className="text-sm font-semibold tracking-wide text-slate-200 uppercase"
        >
          Alert log
        </h2>
        <div className="flex items-center gap-3 text-sm">
          <span className="text-slate-300" data-testid="alert-log-count">
            {count.toLocaleString("en-US")} {anomaliesOnly ? "anomalies" : "windows"}
          </span>
          <label className="flex cursor-pointer items-center gap-1.5">
            <input
              type="checkbox"
              data-testid="anomalies-only"
              checked={anomaliesOnly}
              onChange={(e) => onAnomaliesOnlyChange(e.target.checked)}
              className="h-4 w-4 accent-rose-500"
            />
            Anomalies only
          </label>
        </div>
      </div>
      <div className="relative min-h-0 flex-1">
        <div
          ref={scrollRef}
          role="log"
          // New lines are not announced: hundreds a second would drown a screen reader.
          aria-live="off"
          aria-label={anomaliesOnly ? "Alert log, anomalies only" : "Alert log, every window"}
          tabIndex={0}
          data-testid="alert-log"
          data-following={following ? "true" : "false"}
          data-frozen={frozen === null ? "false" : "true"}
          data-rendered={`${range.start}-${range.end}`}
          data-lines={count}
          onScroll={handleScroll}
          onWheel={(e) => {
            if (e.deltaY < 0) updateFollow(onScrollUpIntent(follow.current));
          }}
          onKeyDown={(e) => {
            if (isScrollUpKey(e.key)) updateFollow(onScrollUpIntent(follow.current));
          }}
          onPointerDown={() => {
            // Dragging the scrollbar: do not pull the log back down under the pointer.
            pointerDown.current = true;
          }}
          // The log places its own scroll position; browser scroll anchoring would fight it.
          className="absolute inset-0 overflow-y-auto font-mono text-sm [overflow-anchor:none]"
        >
          <div
            aria-hidden="true"
            className={`${GRID} sticky top-0 z-10 border-transparent border-b border-b-slate-700 bg-slate-900 py-1 font-sans text-xs font-semibold text-slate-300`}
          >
            <span
              data-testid="alert-time-basis"
              title="Traffic time (UTC) when every window shown has one, else the time each was scored"
            >
              {basis === "traffic" ? "Traffic (UTC)" : "Scored at"}
            </span>
            <span>Upload</span>
            <span className="hidden md:block">Window</span>
            <span className="hidden md:block">Lines</span>
            <span>Score vs threshold</span>
            <span className="hidden md:block">Top victim</span>
            <span className="hidden md:block">Why (top feature)</span>
            <span className="hidden text-right md:block">Pkts/s</span>
          </div>
          {count === 0 ? (
            <p className="p-3 font-sans text-slate-300">
              {anomaliesOnly
                ? "No anomalies yet."
                : "No windows scored yet. Upload a flow CSV to start."}
            </p>
          ) : (
            <div style={{ height: count * rowHeight, position: "relative" }}>
              {rows.map((w, i) => (
                <LogLine
                  key={`${w.uploadId}:${w.window}`}
                  w={w}
                  top={(range.start + i) * rowHeight}
                  height={rowHeight}
                  uploadName={uploadName(w.uploadId)}
                  threshold={thresholdOf(w.modelVersion)}
                  basis={basis}
                  onSelect={onSelect}
                />
              ))}
            </div>
          )}
        </div>
        {!following && count > 0 ? (
          <button
            type="button"
            data-testid="jump-to-latest"
            onClick={jumpToLatest}
            className={`${buttonClass} absolute right-4 bottom-3 shadow-lg`}
          >
            Jump to latest{newLines > 0 ? ` (${newLines.toLocaleString("en-US")} new)` : ""} ↓
          </button>
        ) : null}
      </div>
    </section>
  );
}

/**
 * What the time column shows for the rows on screen: traffic time when every one has it, else
 * processing time (when each was scored) for all of them, so the column never mixes two clocks
 * under one heading.
 */
type TimeBasis = "traffic" | "scored";

function timeBasis(rows: readonly WindowResult[]): TimeBasis {
  return rows.length > 0 && rows.every((w) => w.start !== null) ? "traffic" : "scored";
}

/** Traffic time of the window's first flow (UTC, it is the capture's clock), or when scored. */
function rowTime(w: WindowResult, basis: TimeBasis): string {
  return basis === "traffic" && w.start !== null
    ? formatUtcSeconds(w.start).slice(11, 19)
    : formatClock(w.scoredAt);
}

function LogLine({
  w,
  top,
  height,
  uploadName,
  threshold,
  basis,
  onSelect,
}: {
  w: WindowResult;
  top: number;
  height: number;
  uploadName: string;
  threshold: number | null;
  basis: TimeBasis;
  onSelect: ((w: WindowResult) => void) | undefined;
}) {
  const victim = formatTopVictim(w);
  const why = formatTopFeature(w);
  const comparison =
    threshold === null
      ? formatScore(w.score)
      : `${formatScore(w.score)} ${w.anomaly ? "<" : "≥"} ${formatScore(threshold)}`;
  return (
    <div
      data-testid="alert-line"
      data-anomaly={w.anomaly ? "true" : "false"}
      data-window={w.window}
      style={{ position: "absolute", top, height, left: 0, right: 0 }}
      {...(onSelect === undefined
        ? {}
        : {
            role: "button",
            tabIndex: 0,
            "aria-label": `Window ${w.window} details`,
            onClick: () => onSelect(w),
            onKeyDown: (e: React.KeyboardEvent) => {
              if (e.key === "Enter" || e.key === " ") onSelect(w);
            },
          })}
      className={`${GRID} ${onSelect === undefined ? "" : "cursor-pointer hover:bg-slate-800/60 "}${
        w.anomaly
          ? "border-rose-500 bg-rose-950/70 font-semibold text-rose-100"
          : "border-transparent text-slate-300"
      }`}
    >
      <span
        title={`${w.start === null ? "no traffic time" : `traffic ${w.start}`}; scored at ${formatClock(w.scoredAt)}`}
      >
        {rowTime(w, basis)}
      </span>
      <span className="truncate font-sans" title={uploadName}>
        {uploadName}
      </span>
      <span className="hidden md:block">#{w.window}</span>
      <span className="hidden truncate md:block" title={formatLineRange(w.firstLine, w.lastLine)}>
        {w.firstLine}–{w.lastLine}
      </span>
      <span className="truncate">
        {w.anomaly ? (
          <span className="mr-1 rounded bg-rose-600 px-1 text-xs text-white">ANOMALY</span>
        ) : null}
        {comparison}
      </span>
      <span
        className="hidden truncate md:block"
        title={victim ?? undefined}
        data-testid="alert-victim"
      >
        {victim ?? NO_VALUE}
      </span>
      <span
        className="hidden truncate font-sans md:block"
        title={why ?? undefined}
        data-testid="alert-why"
      >
        {why ?? NO_VALUE}
      </span>
      <span className="hidden text-right md:block">{formatSignal(w.signals.packetsPerSecond)}</span>
    </div>
  );
}
