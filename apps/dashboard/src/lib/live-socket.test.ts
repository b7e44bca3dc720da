import { describe, expect, it } from "vitest";
import { summary } from "../test-fixtures.ts";
import type { ConnectionState } from "./live-store.ts";
import { LiveSocket, liveSubprotocols, type SocketLike } from "./live-socket.ts";

class FakeSocket implements SocketLike {
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  closedWith: number | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  close(code?: number) {
    this.closedWith = code ?? 1000;
  }
  open() {
    this.onopen?.(new Event("open"));
  }
  receive(data: string) {
    this.onmessage?.({ data } as MessageEvent);
  }
  drop(code = 1006) {
    this.onclose?.({ code, reason: "" } as CloseEvent);
  }
}

function harness(token: string | null = null) {
  const sockets: FakeSocket[] = [];
  const states: ConnectionState[] = [];
  const messages: unknown[] = [];
  const invalid: string[] = [];
  const timers: { callback: () => void; ms: number }[] = [];
  let opens = 0;
  const live = new LiveSocket({
    url: "ws://api/ws",
    token: () => token,
    onMessage: (m) => messages.push(m),
    onState: (s) => states.push(s),
    onOpen: () => (opens += 1),
    onInvalidMessage: (p) => invalid.push(p),
    createSocket: (url, protocols) => {
      const socket = new FakeSocket(url, protocols);
      sockets.push(socket);
      return socket;
    },
    random: () => 1,
    setTimer: (callback, ms) => {
      timers.push({ callback, ms });
      return timers.length;
    },
    clearTimer: () => undefined,
    now: () => 1_000,
  });
  return { live, sockets, states, messages, invalid, timers, opens: () => opens };
}

describe("LiveSocket", () => {
  it("offers the token as a second subprotocol", () => {
    expect(liveSubprotocols(null)).toEqual(["floodwatch"]);
    expect(liveSubprotocols("abc")).toEqual(["floodwatch", "bearer.abc"]);
    const { live, sockets } = harness("abc");
    live.start();
    expect(sockets[0]?.protocols).toEqual(["floodwatch", "bearer.abc"]);
  });

  it("passes valid messages on and reports an invalid one once per connection", () => {
    const { live, sockets, messages, invalid } = harness();
    live.start();
    const socket = sockets[0] as FakeSocket;
    socket.open();
    socket.receive(JSON.stringify({ type: "summary", summary: summary() }));
    socket.receive(JSON.stringify({ type: "summary", summary: { anomalies: "many" } }));
    socket.receive("not json");
    expect(messages).toHaveLength(1);
    expect(invalid).toHaveLength(1);
  });

  it("reconnects with growing delays after unexpected closes and resets on open", () => {
    const { live, sockets, states, timers, opens } = harness();
    live.start();
    sockets[0]?.drop();
    expect(states.at(-1)).toEqual({
      status: "reconnecting",
      attempt: 1,
      retryAt: 1_500,
      reason: "connection lost",
    });
    timers[0]?.callback();
    sockets[1]?.drop();
    timers[1]?.callback();
    sockets[2]?.drop();
    expect(timers.map((t) => t.ms)).toEqual([500, 1000, 2000]);
    timers[2]?.callback();
    sockets[3]?.open();
    expect(opens()).toBe(1);
    expect(states.at(-1)).toEqual({ status: "open" });
    sockets[3]?.drop();
    expect(timers.at(-1)?.ms).toBe(500);
  });

  it("stops reconnecting once stopped", () => {
    const { live, sockets, timers, states } = harness();
    live.start();
    sockets[0]?.open();
    live.stop();
    expect(sockets[0]?.closedWith).toBe(1000);
    // The detached socket's late close event changes nothing.
    sockets[0]?.drop();
    expect(timers).toHaveLength(0);
    expect(states.at(-1)).toEqual({ status: "closed" });
    live.start();
    expect(sockets).toHaveLength(2);
  });

  it("reconnects at once on demand (new token)", () => {
    const { live, sockets } = harness();
    live.start();
    sockets[0]?.open();
    live.reconnectNow();
    expect(sockets[0]?.closedWith).toBe(1000);
    expect(sockets).toHaveLength(2);
  });
});
