import { describe, expect, it } from "vitest";
import { AuthCancelledError, AuthGate, TOKEN_STORAGE_KEY, type TokenStorage } from "./auth-gate.ts";

function memoryStorage(initial: Record<string, string> = {}): TokenStorage & {
  data: Record<string, string>;
} {
  const data = { ...initial };
  return {
    data,
    getItem: (key) => data[key] ?? null,
    setItem: (key, value) => {
      data[key] = value;
    },
    removeItem: (key) => {
      delete data[key];
    },
  };
}

describe("AuthGate", () => {
  it("asks once for every request refused at the same time", async () => {
    const storage = memoryStorage();
    const gate = new AuthGate(storage);
    let openings = 0;
    gate.subscribe(() => {
      if (gate.pendingRequest() !== null) openings += 1;
    });
    const waits = [gate.unauthorized(null), gate.unauthorized(null), gate.unauthorized(null)];
    expect(gate.pendingRequest()).toEqual({ rejected: false });
    gate.provide("  s3cret ");
    expect(await Promise.all(waits)).toEqual(["s3cret", "s3cret", "s3cret"]);
    expect(openings).toBe(1);
    expect(gate.pendingRequest()).toBeNull();
    expect(gate.headers()).toEqual({ Authorization: "Bearer s3cret" });
    expect(storage.data[TOKEN_STORAGE_KEY]).toBe("s3cret");
  });

  it("starts with the token kept for the tab", () => {
    const gate = new AuthGate(memoryStorage({ [TOKEN_STORAGE_KEY]: "kept" }));
    expect(gate.token()).toBe("kept");
  });

  it("forgets a refused token and says it was refused", async () => {
    const storage = memoryStorage({ [TOKEN_STORAGE_KEY]: "old" });
    const gate = new AuthGate(storage);
    const wait = gate.unauthorized("old");
    expect(gate.token()).toBeNull();
    expect(storage.data[TOKEN_STORAGE_KEY]).toBeUndefined();
    expect(gate.pendingRequest()).toEqual({ rejected: true });
    gate.provide("new");
    expect(await wait).toBe("new");
  });

  it("retries at once with a token obtained meanwhile by another request", async () => {
    const gate = new AuthGate(memoryStorage({ [TOKEN_STORAGE_KEY]: "fresh" }));
    await expect(gate.unauthorized(null)).resolves.toBe("fresh");
    expect(gate.pendingRequest()).toBeNull();
  });

  it("fails every waiting request when the analyst cancels", async () => {
    const gate = new AuthGate(memoryStorage());
    const wait = gate.unauthorized(null);
    gate.cancel();
    await expect(wait).rejects.toBeInstanceOf(AuthCancelledError);
    expect(gate.pendingRequest()).toBeNull();
  });

  it("works without storage (blocked by the browser)", () => {
    const throwing: TokenStorage = {
      getItem: () => {
        throw new Error("blocked");
      },
      setItem: () => {
        throw new Error("blocked");
      },
      removeItem: () => {
        throw new Error("blocked");
      },
    };
    const gate = new AuthGate(throwing);
    void gate.unauthorized(null);
    gate.provide("t");
    expect(gate.token()).toBe("t");
  });
});
