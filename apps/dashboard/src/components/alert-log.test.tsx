// @vitest-environment jsdom
import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { CappedHistory } from "../lib/capped-history.ts";
import { HISTORY_CAPACITY, windowKey, type WindowHistories } from "../lib/live-store.ts";
import { formatClock } from "../lib/format.ts";
import { windowResult } from "../test-fixtures.ts";
import { AlertLog } from "./alert-log.tsx";

function histories(count: number, anomalyEvery = 10): WindowHistories {
  const all = new CappedHistory(HISTORY_CAPACITY, windowKey);
  const anomalies = new CappedHistory(HISTORY_CAPACITY, windowKey);
  for (let i = 0; i < count; i += 1) {
    const w = windowResult({ window: i, anomaly: i % anomalyEvery === 0 });
    all.push(w);
    if (w.anomaly) anomalies.push(w);
  }
  return { all, anomalies };
}

const noThreshold = () => null;

describe("AlertLog", () => {
  it("holds 2,000 lines but puts only the visible ones in the DOM", () => {
    render(
      <AlertLog
        histories={histories(2500)}
        windowsVersion={1}
        anomaliesOnly={false}
        onAnomaliesOnlyChange={() => undefined}
        uploadName={() => "syn.csv"}
        thresholdOf={noThreshold}
      />,
    );
    const log = screen.getByTestId("alert-log");
    expect(log.getAttribute("data-lines")).toBe("2000");
    const rendered = screen.getAllByTestId("alert-line").length;
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(60);
    // The log is not a live region: new lines are not read out.
    expect(log.getAttribute("aria-live")).toBe("off");
  });

  it("marks anomalies with a word, not colour alone, and compares the score to the threshold", () => {
    render(
      <AlertLog
        histories={histories(3, 2)}
        windowsVersion={1}
        anomaliesOnly={false}
        onAnomaliesOnlyChange={() => undefined}
        uploadName={() => "syn.csv"}
        thresholdOf={() => -0.0568}
      />,
    );
    const lines = screen.getAllByTestId("alert-line");
    expect(lines.map((l) => l.getAttribute("data-anomaly"))).toEqual(["true", "false", "true"]);
    expect(lines[0]?.textContent).toContain("ANOMALY");
    expect(lines[0]?.textContent).toContain("-0.0900 < -0.0568");
    expect(lines[1]?.textContent).toContain("0.0500 ≥ -0.0568");
    expect(lines[1]?.textContent).toContain("52–101");
    expect(lines[0]?.textContent).toContain("25K");
  });

  it("shows anomalies only when asked", () => {
    const onChange = vi.fn();
    const h = histories(100);
    const { rerender } = render(
      <AlertLog
        histories={h}
        windowsVersion={1}
        anomaliesOnly={false}
        onAnomaliesOnlyChange={onChange}
        uploadName={() => "syn.csv"}
        thresholdOf={noThreshold}
      />,
    );
    fireEvent.click(screen.getByLabelText("Anomalies only"));
    expect(onChange).toHaveBeenCalledWith(true);
    rerender(
      <AlertLog
        histories={h}
        windowsVersion={1}
        anomaliesOnly={true}
        onAnomaliesOnlyChange={onChange}
        uploadName={() => "syn.csv"}
        thresholdOf={noThreshold}
      />,
    );
    expect(screen.getByTestId("alert-log").getAttribute("data-lines")).toBe("10");
    expect(
      screen.getAllByTestId("alert-line").every((l) => l.getAttribute("data-anomaly") === "true"),
    ).toBe(true);
  });

  it("stops following on scroll up and offers to jump to the latest line", () => {
    render(
      <AlertLog
        histories={histories(500)}
        windowsVersion={1}
        anomaliesOnly={false}
        onAnomaliesOnlyChange={() => undefined}
        uploadName={() => "syn.csv"}
        thresholdOf={noThreshold}
      />,
    );
    const log = screen.getByTestId("alert-log");
    expect(log.getAttribute("data-following")).toBe("true");
    expect(screen.queryByTestId("jump-to-latest")).toBeNull();
    fireEvent.wheel(log, { deltaY: -120 });
    expect(log.getAttribute("data-following")).toBe("false");
    fireEvent.click(screen.getByTestId("jump-to-latest"));
    expect(log.getAttribute("data-following")).toBe("true");
    fireEvent.keyDown(log, { key: "PageUp" });
    expect(log.getAttribute("data-following")).toBe("false");
  });

  it("holds still on what the analyst reads while new lines arrive, and counts them", () => {
    const h = histories(50);
    const props = {
      histories: h,
      anomaliesOnly: false,
      onAnomaliesOnlyChange: () => undefined,
      uploadName: () => "syn.csv",
      thresholdOf: noThreshold,
    };
    const { rerender } = render(<AlertLog {...props} windowsVersion={1} />);
    const log = screen.getByTestId("alert-log");
    fireEvent.wheel(log, { deltaY: -120 });
    expect(log.getAttribute("data-frozen")).toBe("true");
    const firstBefore = screen.getAllByTestId("alert-line")[0]?.textContent;
    for (let i = 50; i < 60; i += 1) h.all.push(windowResult({ window: i }));
    rerender(<AlertLog {...props} windowsVersion={2} />);
    expect(log.getAttribute("data-lines")).toBe("50");
    expect(screen.getAllByTestId("alert-line")[0]?.textContent).toBe(firstBefore);
    const jump = screen.getByTestId("jump-to-latest");
    expect(jump.textContent).toContain("(10 new)");
    fireEvent.click(jump);
    expect(log.getAttribute("data-frozen")).toBe("false");
    expect(log.getAttribute("data-lines")).toBe("60");
  });

  it("renders upload names from a CSV as text, never as HTML", () => {
    const { container } = render(
      <AlertLog
        histories={histories(2)}
        windowsVersion={1}
        anomaliesOnly={false}
        onAnomaliesOnlyChange={() => undefined}
        uploadName={() => '<script>alert("x")</script><img src=x onerror=alert(1)>'}
        thresholdOf={noThreshold}
      />,
    );
    expect(container.querySelector("script")).toBeNull();
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getAllByTestId("alert-line")[0]?.textContent).toContain(
      '<script>alert("x")</script>',
    );
  });

  it("shows traffic time when every window shown has it, else processing time, and says which", () => {
    const log = (windows: ReturnType<typeof windowResult>[]) => {
      const all = new CappedHistory(HISTORY_CAPACITY, windowKey);
      for (const w of windows) all.push(w);
      return render(
        <AlertLog
          histories={{ all, anomalies: new CappedHistory(HISTORY_CAPACITY, windowKey) }}
          windowsVersion={1}
          anomaliesOnly={false}
          onAnomaliesOnlyChange={() => undefined}
          uploadName={() => "friday.csv"}
          thresholdOf={noThreshold}
        />,
      );
    };
    const timed = [0, 1].map((i) =>
      windowResult({ window: i, start: `2017-07-07T15:5${i}:01.000Z`, end: null }),
    );
    const first = log(timed);
    expect(screen.getByTestId("alert-time-basis").textContent).toBe("Traffic (UTC)");
    const times = () => screen.getAllByTestId("alert-line").map((l) => l.firstChild!.textContent);
    expect(times()).toEqual(["15:50:01", "15:51:01"]);
    first.unmount();

    // One window without a traffic time: the whole column is processing time.
    const scored = [...timed, windowResult({ window: 2 })];
    log(scored);
    expect(screen.getByTestId("alert-time-basis").textContent).toBe("Scored at");
    expect(times()).toEqual(scored.map((w) => formatClock(w.scoredAt)));
  });
});
