// @vitest-environment jsdom
import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { incident } from "../test-fixtures.ts";
import { IncidentsPanel } from "./incidents-panel.tsx";

describe("IncidentsPanel", () => {
  it("lists victim, duration, windows, worst score and features; a click selects and shows details", () => {
    const onSelect = vi.fn();
    const incidents = [incident({ id: "u1-2", state: "open", muted: true }), incident()];
    const { rerender } = render(
      <IncidentsPanel
        incidents={incidents}
        error={null}
        selectedId={null}
        onSelect={onSelect}
        uploadName={() => "friday.csv"}
      />,
    );
    const rows = screen.getAllByTestId("incident-row");
    expect(rows.map((r) => r.getAttribute("data-state"))).toEqual(["open", "closed"]);
    expect(rows[0]!.textContent).toContain("muted");
    expect(rows[1]!.textContent).toContain("192.168.10.50:80");
    expect(rows[1]!.textContent).toContain("20 min");
    expect(rows[1]!.textContent).toContain("100/102");
    expect(rows[1]!.textContent).toContain("Flow Packets/s");
    fireEvent.click(rows[1]!);
    expect(onSelect).toHaveBeenCalledWith("u1-1");

    rerender(
      <IncidentsPanel
        incidents={incidents}
        error={null}
        selectedId="u1-1"
        onSelect={onSelect}
        uploadName={() => "friday.csv"}
      />,
    );
    const details = screen.getByTestId("incident-details");
    expect(details.textContent).toContain("friday.csv");
    expect(details.textContent).toContain("#14–#115: 100 anomalous of 102");
  });

  it("says when there is nothing yet and shows the window range without traffic time", () => {
    const { rerender } = render(
      <IncidentsPanel
        incidents={[]}
        error={null}
        selectedId={null}
        onSelect={() => undefined}
        uploadName={(id) => id}
      />,
    );
    expect(screen.getByTestId("no-incidents")).toBeTruthy();
    rerender(
      <IncidentsPanel
        incidents={[incident({ start: null, end: null, victims: [], ports: [] })]}
        error={null}
        selectedId={null}
        onSelect={() => undefined}
        uploadName={(id) => id}
      />,
    );
    const row = screen.getByTestId("incident-row");
    expect(row.textContent).toContain("#14–#115");
    expect(screen.getByTestId("incident-victim").textContent).toBe("—");
  });
});
