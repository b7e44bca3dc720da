// @vitest-environment jsdom
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { modelSummary, uploadStatus } from "../test-fixtures.ts";
import { connectionText } from "./connection-badge.tsx";
import { ModelPanel } from "./model-panel.tsx";
import { trainingOptionsOf } from "./models-panel.tsx";
import { QualityPanel } from "./quality-panel.tsx";

describe("ModelPanel", () => {
  it("shows the threshold with its calibration quantile and validation FPR", () => {
    render(<ModelPanel model={modelSummary()} />);
    expect(screen.getByTestId("model-version").textContent).toBe("9dcd39db7b76");
    const threshold = screen.getByTestId("model-threshold");
    expect(threshold.getAttribute("data-value")).toBe("-0.0568");
    expect(threshold.textContent).toContain("-0.0568");
    expect(threshold.textContent).toContain("1.0% quantile");
    expect(screen.getByTestId("model-fpr").textContent).toBe("1.00%");
    expect(screen.getByTestId("model-panel").textContent).toContain("50 flows, stride 50");
    expect(screen.getByTestId("model-features").children).toHaveLength(3);
    expect(screen.getByTestId("false-alarms").textContent).toBe(
      "promised 1.00% · not measured for these settings",
    );
    expect(screen.queryByTestId("model-warnings")).toBeNull();
  });

  it("shows the lab's other-day false alarms beside the promise, and training's warnings", () => {
    const model = modelSummary({
      warnings: ["trained on 62 windows, fewer than 300"],
      falseAlarms: {
        promised: 0,
        measured: { profile: "default", mean: 0.04, low: 0.03, high: 0.06, source: "the lab" },
      },
    });
    render(<ModelPanel model={model} />);
    const falseAlarms = screen.getByTestId("false-alarms");
    expect(falseAlarms.textContent).toBe("promised 0.00% · lab, other days 4.0% (3.0%–6.0%)");
    expect(falseAlarms.querySelector("[title]")!.getAttribute("title")).toBe(
      "default profile; the lab",
    );
    expect(screen.getByTestId("model-warnings").textContent).toBe(
      "⚠ trained on 62 windows, fewer than 300",
    );
  });
});

describe("QualityPanel", () => {
  it("shows precision, recall, F1 and the confusion counts of a labelled upload", () => {
    const upload = uploadStatus();
    render(<QualityPanel uploads={[upload]} selected={upload} />);
    expect(screen.getByTestId("quality-precision").textContent).toBe("0.857");
    expect(screen.getByTestId("quality-recall").textContent).toBe("0.750");
    expect(screen.getByTestId("quality-f1").textContent).toBe("0.800");
    expect(screen.getByTestId("quality-confusion").textContent).toContain("TP 6");
    expect(screen.getByTestId("quality-confusion").textContent).toContain("TN 31");
  });

  it("explains why there is nothing to show for an unlabelled upload", () => {
    const upload = uploadStatus({ labelled: false, quality: null });
    render(<QualityPanel uploads={[upload]} selected={upload} />);
    expect(screen.getByTestId("quality-panel").textContent).toContain("no Label column");
    expect(screen.queryByTestId("quality-f1")).toBeNull();
  });
});

describe("connection text", () => {
  it("counts down to the next retry", () => {
    expect(connectionText({ status: "open" }, 0)).toBe("Live");
    expect(
      connectionText(
        { status: "reconnecting", attempt: 3, retryAt: 5_200, reason: "connection lost" },
        1_000,
      ),
    ).toBe("Disconnected (connection lost); retrying in 5 s");
  });
});

describe("training form options", () => {
  it("keeps empty fields out so the trainer's defaults apply", () => {
    const form = new FormData();
    form.set("trees", "200");
    form.set("window", "");
    form.set("quantile", "0.005");
    form.set("features", "Flow Duration, SYN Flag Count,\n Flow Packets/s");
    expect(trainingOptionsOf(form)).toEqual({
      trees: 200,
      quantile: 0.005,
      features: ["Flow Duration", "SYN Flag Count", "Flow Packets/s"],
    });
  });
});
