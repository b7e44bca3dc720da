import { describe, expect, it } from "vitest";
import { summary, uploadStatus, windowResult } from "../test-fixtures.ts";
import { AuthGate, type TokenStorage } from "./auth-gate.ts";
import { LiveSession } from "./live-session.ts";
import { LiveStore } from "./live-store.ts";
import type { SocketLike } from "./live-socket.ts";

const noStorage: TokenStorage = {
  getItem: () => null,
  setItem: () => undefined,
  removeItem: () => undefined,
};

/** An API that answers every catch-up request; windows newest first, as the real one. */
function fakeApi(status = 200) {
  const requested: string[] = [];
  const fetchImpl: typeof fetch = (input) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    requested.push(url.pathname + url.search);
    const body =
      status !== 200
        ? { error: "unauthorized", message: "token required" }
        : url.pathname === "/api/summary"
          ? summary()
          : url.pathname === "/api/uploads"
            ? [uploadStatus()]
            : url.searchParams.get("anomaliesOnly") === "true"
              ? [windowResult({ window: 1, anomaly: true })]
              : [2, 1, 0].map((w) => windowResult({ window: w, anomaly: w === 1 }));
    return Promise.resolve(new Response(JSON.stringify(body), { status }));
  };
  return { fetchImpl, requested };
}

function fakeSockets() {
  const created: { url: string; protocols: string[]; socket: SocketLike }[] = [];
  const createSocket = (url: string, protocols: string[]) => {
    const socket: SocketLike = {
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
      close: () => undefined,
    };
    created.push({ url, protocols, socket });
    return socket;
  };
  return { created, createSocket };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("LiveSession", () => {
  it("connects to the API's WebSocket and catches up from its REST history", async () => {
    const { fetchImpl, requested } = fakeApi();
    const { created, createSocket } = fakeSockets();
    const store = new LiveStore(() => () => undefined);
    const session = new LiveSession({
      apiUrl: "http://api:8080",
      ingestUrl: "http://ingest:8081",
      auth: new AuthGate(noStorage),
      store,
      fetch: fetchImpl,
      createSocket,
    });
    session.start();
    session.start();
    expect(created).toHaveLength(1);
    expect(created[0]?.url).toBe("ws://api:8080/ws");
    await settle();
    store.flush();
    const s = store.getSnapshot();
    expect(s.summary?.anomalies).toBe(56);
    expect(s.uploads.get("u1")?.name).toBe("syn.csv");
    expect(s.windows.all.toArray().map((w) => w.window)).toEqual([0, 1, 2]);
    expect(s.windows.anomalies.toArray().map((w) => w.window)).toEqual([1]);
    expect(requested).toContain("/api/windows?anomaliesOnly=true&limit=2000");
    session.stop();
  });

  it("reports a catch-up that fails, and reconnects with the token once it is given", async () => {
    const { fetchImpl } = fakeApi(401);
    const { created, createSocket } = fakeSockets();
    const auth = new AuthGate(noStorage);
    const problems: (string | null)[] = [];
    const session = new LiveSession({
      apiUrl: "http://api:8080",
      ingestUrl: "http://ingest:8081",
      auth,
      store: new LiveStore(() => () => undefined),
      fetch: fetchImpl,
      createSocket,
      onProblem: (p) => problems.push(p),
    });
    session.start();
    await settle();
    expect(auth.pendingRequest()).toEqual({ rejected: false });
    auth.cancel();
    await settle();
    expect(problems.at(-1)).toMatch(/could not load the current state: an API token is required/);
    auth.provide("0123456789abcdef");
    expect(created).toHaveLength(2);
    expect(created[1]?.protocols).toEqual(["floodwatch", "bearer.0123456789abcdef"]);
    session.stop();
  });
});
