// @vitest-environment jsdom
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { summary, uploadStatus } from "../test-fixtures.ts";
import { Counters } from "./counters.tsx";

describe("Counters", () => {
  it("shows the system's counters with raw values for tests and the dead letters only when non-zero", () => {
    const { rerender } = render(<Counters summary={summary()} upload={null} />);
    expect(screen.getByTestId("counter-anomalies").getAttribute("data-value")).toBe("56");
    expect(screen.getByTestId("counter-anomalies").textContent).toContain("56");
    expect(screen.getByTestId("counter-threshold").textContent).toContain("-0.0568");
    expect(screen.queryByTestId("counter-dead-letters")).toBeNull();
    rerender(<Counters summary={summary({ deadLetters: 2 })} upload={null} />);
    expect(screen.getByTestId("counter-dead-letters").textContent).toContain("2");
  });

  it("switches to the selected upload's figures", () => {
    render(<Counters summary={summary()} upload={uploadStatus({ anomalies: 7 })} />);
    expect(screen.getByTestId("counter-anomalies").getAttribute("data-value")).toBe("7");
    expect(screen.getByTestId("counter-anomalies").textContent).toContain("(selected upload)");
  });
});
