// @vitest-environment jsdom
import type { UploadAccepted } from "@floodwatch/core/stream-contracts";
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, type ApiClient, type SendProgress } from "../lib/api-client.ts";
import { uploadStatus } from "../test-fixtures.ts";
import { UploadPanel } from "./upload-panel.tsx";

/** An API whose uploads the test finishes by hand. */
function fakeApi() {
  const uploads: {
    file: File;
    progress: SendProgress;
    options: { timestampZone?: string } | undefined;
    resolve: (a: UploadAccepted) => void;
    reject: (e: unknown) => void;
  }[] = [];
  const api = {
    uploadFlows(file: File, progress: SendProgress, options?: { timestampZone?: string }) {
      let resolve: (a: UploadAccepted) => void = () => undefined;
      let reject: (e: unknown) => void = () => undefined;
      const result = new Promise<UploadAccepted>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      uploads.push({ file, progress, options, resolve, reject });
      return { result, abort: () => undefined };
    },
  } as unknown as ApiClient;
  return { api, uploads };
}

const accepted: UploadAccepted = {
  uploadId: "u1",
  name: "syn.csv",
  rowsAccepted: 4998,
  rowsRejected: 2,
  rejected: [
    { line: 17, reason: "Flow Duration is not a number" },
    { line: 90, column: 8, reason: "negative Flow Duration" },
  ],
  windowsQueued: 100,
  tailFlows: 0,
  labelled: true,
  modelVersion: "9dcd39db7b76",
};

/** Runs `action` and lets the promise callbacks it triggers run too. */
function settle(action: () => void): Promise<void> {
  action();
  return Promise.resolve();
}

function choose(...files: File[]) {
  fireEvent.change(screen.getByTestId("upload-input"), { target: { files } });
}

describe("UploadPanel", () => {
  it("is a labelled file input that takes several CSVs", () => {
    const { api } = fakeApi();
    render(
      <UploadPanel
        api={api}
        uploads={new Map()}
        selectedUploadId={null}
        onSelectUpload={() => undefined}
      />,
    );
    const input = screen.getByLabelText(/Drop flow CSV or capture files here/);
    expect(input.getAttribute("type")).toBe("file");
    expect(input.hasAttribute("multiple")).toBe(true);
    expect(input.getAttribute("accept")).toContain(".csv");
    expect(input.getAttribute("accept")).toContain(".pcapng");
  });

  it("shows bytes sent, then the server's answer, then live scoring progress", async () => {
    const { api, uploads } = fakeApi();
    const { rerender } = render(
      <UploadPanel
        api={api}
        uploads={new Map()}
        selectedUploadId={null}
        onSelectUpload={() => undefined}
      />,
    );
    choose(new File(["x".repeat(1000)], "syn.csv", { type: "text/csv" }));
    const upload = uploads[0];
    if (upload === undefined) throw new Error("no upload started");
    act(() => upload.progress(250, 1000));
    const bar = screen.getByTestId("upload-bytes-progress");
    expect(bar.getAttribute("aria-valuenow")).toBe("250");
    expect(bar.getAttribute("aria-valuemax")).toBe("1000");
    act(() => upload.progress(1000, 1000));
    expect(screen.getByTestId("upload-task").textContent).toContain(
      "the server is reading the file",
    );
    await act(() => settle(() => upload.resolve(accepted)));
    const task = screen.getByTestId("upload-task");
    expect(task.getAttribute("data-phase")).toBe("accepted");
    expect(within(task).getByTestId("rows-accepted").textContent).toBe("4,998");
    const rejected = within(task).getByTestId("rejected-rows");
    expect(rejected.textContent).toContain("line 17: Flow Duration is not a number");
    expect(rejected.textContent).toContain("line 90, column 8: negative Flow Duration");
    rerender(
      <UploadPanel
        api={api}
        uploads={new Map([["u1", uploadStatus({ windowsScored: 40, windowsQueued: 100 })]])}
        selectedUploadId={null}
        onSelectUpload={() => undefined}
      />,
    );
    expect(screen.getByTestId("upload-scoring").textContent).toContain("40 of 100 windows scored");
    expect(screen.getByTestId("upload-scoring-progress").getAttribute("aria-valuenow")).toBe("40");
  });

  it("says how many timestamps were unreadable and that their windows use processing time", async () => {
    const { api, uploads } = fakeApi();
    const { rerender } = render(
      <UploadPanel
        api={api}
        uploads={new Map()}
        selectedUploadId={null}
        onSelectUpload={() => undefined}
      />,
    );
    choose(new File(["x"], "late.csv"));
    await act(() => settle(() => uploads[0]!.resolve({ ...accepted, timestampsUnparsed: 1 })));
    expect(screen.getByTestId("timestamps-unparsed").textContent).toBe(
      "1 timestamp unreadable: times from processing",
    );
    rerender(
      <UploadPanel
        api={api}
        uploads={new Map([["u1", uploadStatus({ timestampsUnparsed: 12 })]])}
        selectedUploadId={null}
        onSelectUpload={() => undefined}
      />,
    );
    expect(screen.getByTestId("timestamps-unparsed").textContent).toBe(
      "12 timestamps unreadable: times from processing",
    );
  });

  it("shows no timestamp note when every timestamp was read", async () => {
    const { api, uploads } = fakeApi();
    render(
      <UploadPanel
        api={api}
        uploads={new Map()}
        selectedUploadId={null}
        onSelectUpload={() => undefined}
      />,
    );
    choose(new File(["x"], "clean.csv"));
    await act(() => settle(() => uploads[0]!.resolve(accepted)));
    expect(screen.getByTestId("upload-answer")).toBeTruthy();
    expect(screen.queryByTestId("timestamps-unparsed")).toBeNull();
  });

  it("shows a refusal plainly, with the missing columns", async () => {
    const { api, uploads } = fakeApi();
    render(
      <UploadPanel
        api={api}
        uploads={new Map()}
        selectedUploadId={null}
        onSelectUpload={() => undefined}
      />,
    );
    choose(new File(["a,b\n"], "bad.csv"));
    await act(() =>
      settle(() =>
        uploads[0]?.reject(
          new ApiError("the file lacks required columns", 400, {
            error: "missing_columns",
            message: "the file lacks required columns",
            missing: ["Flow Duration", "SYN Flag Count"],
            seen: ["a", "b"],
          }),
        ),
      ),
    );
    const refusal = screen.getByRole("alert");
    expect(refusal.textContent).toContain("Refused (HTTP 400)");
    expect(within(refusal).getByTestId("missing-columns").textContent).toBe(
      "Flow DurationSYN Flag Count",
    );
  });

  it("runs several uploads side by side", () => {
    const { api, uploads } = fakeApi();
    render(
      <UploadPanel
        api={api}
        uploads={new Map()}
        selectedUploadId={null}
        onSelectUpload={() => undefined}
      />,
    );
    choose(new File(["1"], "a.csv"), new File(["2"], "b.csv"));
    expect(uploads.map((u) => u.file.name)).toEqual(["a.csv", "b.csv"]);
    expect(screen.getAllByTestId("upload-task")).toHaveLength(2);
  });

  it("never renders file names or server reasons as HTML", async () => {
    const { api, uploads } = fakeApi();
    const { container } = render(
      <UploadPanel
        api={api}
        uploads={new Map()}
        selectedUploadId={null}
        onSelectUpload={() => undefined}
      />,
    );
    choose(new File(["1"], "<img src=x onerror=alert(1)>.csv"));
    await act(() =>
      settle(() =>
        uploads[0]?.resolve({
          ...accepted,
          rejected: [{ line: 3, reason: "<script>alert('label')</script> is not a label" }],
        }),
      ),
    );
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    expect(container.textContent).toContain("<script>alert('label')</script> is not a label");
    expect(container.textContent).toContain("<img src=x onerror=alert(1)>.csv");
  });

  describe("timestamp zone", () => {
    afterEach(() => vi.restoreAllMocks());

    const panel = (api: ApiClient) =>
      render(
        <UploadPanel
          api={api}
          uploads={new Map()}
          selectedUploadId={null}
          onSelectUpload={() => undefined}
        />,
      );

    it("sends none for UTC, the typed zone otherwise, and nothing while the typed zone is wrong", () => {
      const { api, uploads } = fakeApi();
      panel(api);
      const select = screen.getByLabelText("Timestamps without a zone are in");
      expect((select as HTMLSelectElement).value).toBe("UTC");
      choose(new File(["1"], "a.csv"));
      expect(uploads[0]!.options).toEqual({});

      fireEvent.change(select, { target: { value: "other" } });
      const text = screen.getByTestId("timestamp-zone-text");
      fireEvent.change(text, { target: { value: "Mars/Olympus" } });
      expect(screen.getByTestId("timestamp-zone-problem").textContent).toBe(
        "Not a time zone: Mars/Olympus (try America/Halifax or -03:00)",
      );
      expect(text.getAttribute("aria-invalid")).toBe("true");
      expect(screen.getByTestId("upload-input").hasAttribute("disabled")).toBe(true);
      choose(new File(["2"], "b.csv"));
      expect(uploads).toHaveLength(1);

      fireEvent.change(text, { target: { value: " America/Halifax " } });
      expect(screen.queryByTestId("timestamp-zone-problem")).toBeNull();
      choose(new File(["3"], "c.csv"));
      expect(uploads.map((u) => [u.file.name, u.options])).toEqual([
        ["a.csv", {}],
        ["c.csv", { timestampZone: "America/Halifax" }],
      ]);
    });

    it("offers the browser's own zone", () => {
      const real = new Intl.DateTimeFormat().resolvedOptions();
      vi.spyOn(Intl.DateTimeFormat.prototype, "resolvedOptions").mockReturnValue({
        ...real,
        timeZone: "Europe/Berlin",
      });
      const { api, uploads } = fakeApi();
      panel(api);
      const select = screen.getByLabelText("Timestamps without a zone are in");
      expect(within(select).getByText("Europe/Berlin (this browser)")).toBeTruthy();
      fireEvent.change(select, { target: { value: "Europe/Berlin" } });
      choose(new File(["1"], "a.csv"));
      expect(uploads[0]!.options).toEqual({ timestampZone: "Europe/Berlin" });
    });
  });
});
