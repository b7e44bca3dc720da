import { describe, expect, it } from "vitest";
import { modelVersion, summary, windowResult } from "../test-fixtures.ts";
import { ApiClient, ApiError } from "./api-client.ts";
import { AuthGate, type TokenStorage } from "./auth-gate.ts";

const noStorage: TokenStorage = {
  getItem: () => null,
  setItem: () => undefined,
  removeItem: () => undefined,
};

interface Call {
  url: string;
  headers: Record<string, string>;
  method: string;
}

/** A fetch that answers from a list and records what it was asked. */
function scriptedFetch(answers: { status: number; body: unknown }[]) {
  const calls: Call[] = [];
  const fetchImpl: typeof fetch = (input, init) => {
    calls.push({
      url: input instanceof Request ? input.url : String(input),
      headers: (init?.headers ?? {}) as Record<string, string>,
      method: init?.method ?? "GET",
    });
    const answer = answers.shift();
    if (answer === undefined) return Promise.reject(new TypeError("Failed to fetch"));
    return Promise.resolve(
      new Response(JSON.stringify(answer.body), {
        status: answer.status,
        headers: { "content-type": "application/json" },
      }),
    );
  };
  return { fetchImpl, calls };
}

/** A fake XMLHttpRequest that answers each send from a list. */
function scriptedXhr(answers: { status: number; body: unknown }[]) {
  const sent: { url: string; headers: Record<string, string>; form: FormData }[] = [];
  const create = () => {
    const headers: Record<string, string> = {};
    let url = "";
    const xhr = {
      status: 0,
      responseText: "",
      upload: { onprogress: null as ((e: ProgressEvent) => void) | null },
      onload: null as (() => void) | null,
      onerror: null as (() => void) | null,
      onabort: null as (() => void) | null,
      open: (_method: string, u: string) => {
        url = u;
      },
      setRequestHeader: (name: string, value: string) => {
        headers[name] = value;
      },
      send: (form: FormData) => {
        sent.push({ url, headers: { ...headers }, form });
        queueMicrotask(() => {
          xhr.upload.onprogress?.({
            lengthComputable: true,
            loaded: 5,
            total: 10,
          } as ProgressEvent);
          xhr.upload.onprogress?.({
            lengthComputable: true,
            loaded: 10,
            total: 10,
          } as ProgressEvent);
          const answer = answers.shift();
          if (answer === undefined) {
            xhr.onerror?.();
            return;
          }
          xhr.status = answer.status;
          xhr.responseText = JSON.stringify(answer.body);
          xhr.onload?.();
        });
      },
      abort: () => xhr.onabort?.(),
    };
    return xhr as unknown as XMLHttpRequest;
  };
  return { create, sent };
}

const accepted = {
  uploadId: "u1",
  name: "syn.csv",
  rowsAccepted: 4998,
  rowsRejected: 2,
  rejected: [{ line: 17, reason: "Flow Duration is not a number" }],
  windowsQueued: 99,
  tailFlows: 48,
  labelled: true,
  modelVersion: "9dcd39db7b76",
};

describe("ApiClient", () => {
  it("derives the WebSocket URL from the API URL", () => {
    const auth = new AuthGate(noStorage);
    const http = new ApiClient({ apiUrl: "http://h:8080", ingestUrl: "http://h:8081", auth });
    const https = new ApiClient({ apiUrl: "https://a.example/api-root", ingestUrl: "x", auth });
    expect(http.liveUrl()).toBe("ws://h:8080/ws");
    expect(https.liveUrl()).toBe("wss://a.example/api-root/ws");
  });

  it("asks for a token on 401 and retries with it", async () => {
    const auth = new AuthGate(noStorage);
    const { fetchImpl, calls } = scriptedFetch([
      { status: 401, body: { error: "unauthorized", message: "token required" } },
      { status: 200, body: summary() },
    ]);
    const api = new ApiClient({
      apiUrl: "http://api",
      ingestUrl: "http://ingest",
      auth,
      fetch: fetchImpl,
    });
    const answer = api.summary();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(auth.pendingRequest()).toEqual({ rejected: false });
    auth.provide("tok");
    expect((await answer).anomalies).toBe(56);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.headers.Authorization).toBeUndefined();
    expect(calls[1]?.headers.Authorization).toBe("Bearer tok");
  });

  it("builds the windows query and validates the answer", async () => {
    const auth = new AuthGate(noStorage);
    const { fetchImpl, calls } = scriptedFetch([
      { status: 200, body: [windowResult({ window: 2 }), windowResult({ window: 1 })] },
      { status: 200, body: [{ uploadId: "u1" }] },
    ]);
    const api = new ApiClient({ apiUrl: "http://api", ingestUrl: "", auth, fetch: fetchImpl });
    const windows = await api.windows({ uploadId: "a b", anomaliesOnly: true, limit: 2000 });
    expect(windows.map((w) => w.window)).toEqual([2, 1]);
    expect(calls[0]?.url).toBe("http://api/api/windows?uploadId=a+b&anomaliesOnly=true&limit=2000");
    await expect(api.windows()).rejects.toMatchObject({ name: "ApiError", status: 502 });
  });

  it("carries the server's error body and reports an unreachable API", async () => {
    const auth = new AuthGate(noStorage);
    const { fetchImpl } = scriptedFetch([
      { status: 404, body: { error: "unknown_upload", message: "no upload u9" } },
    ]);
    const api = new ApiClient({ apiUrl: "http://api", ingestUrl: "", auth, fetch: fetchImpl });
    await expect(api.upload("u9")).rejects.toMatchObject({ status: 404, message: "no upload u9" });
    const unreachable = await api.summary().catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(ApiError);
    expect((unreachable as ApiError).status).toBe(0);
  });

  it("uploads with progress and returns the accepted answer", async () => {
    const auth = new AuthGate(noStorage);
    const xhr = scriptedXhr([{ status: 201, body: accepted }]);
    const api = new ApiClient({ apiUrl: "", ingestUrl: "http://ingest", auth, xhr: xhr.create });
    const progress: number[] = [];
    const file = new File(["a,b\n1,2\n"], "syn.csv", { type: "text/csv" });
    const result = await api.uploadFlows(file, (sent) => progress.push(sent)).result;
    expect(result.rowsAccepted).toBe(4998);
    expect(progress).toEqual([5, 10]);
    expect(xhr.sent[0]?.url).toBe("http://ingest/api/uploads");
    expect((xhr.sent[0]?.form.get("file") as File).name).toBe("syn.csv");
  });

  it("turns a refusal into an ApiError with the missing columns", async () => {
    const auth = new AuthGate(noStorage);
    const refusal = {
      error: "missing_columns",
      message: "missing required columns",
      missing: ["Flow Duration", "SYN Flag Count"],
      seen: ["a", "b"],
    };
    const xhr = scriptedXhr([{ status: 400, body: refusal }]);
    const api = new ApiClient({ apiUrl: "", ingestUrl: "http://ingest", auth, xhr: xhr.create });
    const error = await api
      .uploadFlows(new File(["a,b\n"], "bad.csv"), () => undefined)
      .result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).body?.missing).toEqual(["Flow Duration", "SYN Flag Count"]);
  });

  it("resends an upload with the token after a 401", async () => {
    const auth = new AuthGate(noStorage);
    const xhr = scriptedXhr([
      { status: 401, body: { error: "unauthorized", message: "token required" } },
      { status: 201, body: accepted },
    ]);
    const api = new ApiClient({ apiUrl: "", ingestUrl: "http://ingest", auth, xhr: xhr.create });
    const pending = api.uploadFlows(new File(["x"], "syn.csv"), () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 0));
    auth.provide("tok");
    expect((await pending.result).uploadId).toBe("u1");
    expect(xhr.sent).toHaveLength(2);
    expect(xhr.sent[0]?.headers.Authorization).toBeUndefined();
    expect(xhr.sent[1]?.headers.Authorization).toBe("Bearer tok");
  });

  it("reads the model list in either shape", async () => {
    const auth = new AuthGate(noStorage);
    const entry = modelVersion({ active: true });
    const { fetchImpl } = scriptedFetch([
      { status: 200, body: { active: entry.version, models: [entry] } },
      { status: 200, body: [{ ...entry, active: false }] },
    ]);
    const api = new ApiClient({ apiUrl: "http://api", ingestUrl: "", auth, fetch: fetchImpl });
    expect((await api.models()).map((m) => [m.version, m.active])).toEqual([
      ["9dcd39db7b76", true],
    ]);
    expect((await api.models())[0]?.active).toBe(false);
  });

  it("sends training options before the file", async () => {
    const auth = new AuthGate(noStorage);
    const xhr = scriptedXhr([{ status: 202, body: { jobId: "42" } }]);
    const api = new ApiClient({ apiUrl: "http://api", ingestUrl: "", auth, xhr: xhr.create });
    const pending = api.trainModel(
      new File(["x"], "benign.csv"),
      { trees: 50, quantile: 0.005, features: ["Flow Duration", "SYN Flag Count"] },
      () => undefined,
    );
    expect(await pending.result).toEqual({ jobId: "42" });
    const form = xhr.sent[0]?.form;
    expect(xhr.sent[0]?.url).toBe("http://api/api/models");
    expect([...(form?.keys() ?? [])]).toEqual(["trees", "quantile", "features", "file"]);
    expect(form?.get("features")).toBe("Flow Duration,SYN Flag Count");
  });
});
