// @vitest-environment jsdom
import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { AuthCancelledError, AuthGate } from "../lib/auth-gate.ts";
import { TokenDialog } from "./token-dialog.tsx";

describe("TokenDialog", () => {
  it("appears on a 401, takes the token once and lets every waiting request retry", async () => {
    sessionStorage.clear();
    const gate = new AuthGate();
    render(<TokenDialog auth={gate} />);
    expect(screen.queryByTestId("token-dialog")).toBeNull();
    let waits: Promise<string>[] = [];
    act(() => {
      waits = [gate.unauthorized(null), gate.unauthorized(null)];
    });
    const dialog = screen.getByRole("dialog", { name: "API token required" });
    expect(dialog).toBeTruthy();
    const input = screen.getByLabelText("API token");
    expect(document.activeElement).toBe(input);
    fireEvent.change(input, { target: { value: "s3cret" } });
    fireEvent.click(screen.getByRole("button", { name: "Use token" }));
    await expect(Promise.all(waits)).resolves.toEqual(["s3cret", "s3cret"]);
    expect(screen.queryByTestId("token-dialog")).toBeNull();
    expect(sessionStorage.getItem("floodwatch.apiToken")).toBe("s3cret");
  });

  it("says when the token was refused, and Escape cancels", async () => {
    sessionStorage.clear();
    const gate = new AuthGate();
    render(<TokenDialog auth={gate} />);
    let wait: Promise<string> = Promise.resolve("");
    act(() => {
      wait = gate.unauthorized("old");
    });
    expect(screen.getByTestId("token-dialog").textContent).toContain("refused the token");
    fireEvent.keyDown(screen.getByLabelText("API token"), { key: "Escape" });
    await expect(wait).rejects.toBeInstanceOf(AuthCancelledError);
    expect(screen.queryByTestId("token-dialog")).toBeNull();
  });
});
