import { describe, expect, it } from "vitest";
import { CappedHistory } from "./capped-history.ts";

const byId = (n: { id: number }) => String(n.id);
const items = (...ids: number[]) => ids.map((id) => ({ id }));

describe("CappedHistory", () => {
  it("keeps the newest items up to its capacity, oldest first", () => {
    const h = new CappedHistory(3, byId);
    h.pushAll(items(1, 2, 3, 4, 5));
    expect(h.toArray().map((i) => i.id)).toEqual([3, 4, 5]);
    expect(h.size).toBe(3);
    expect(h.evicted).toBe(2);
    expect(h.at(0)?.id).toBe(3);
    expect(h.newest()?.id).toBe(5);
    expect(h.at(3)).toBeUndefined();
    expect(h.has("2")).toBe(false);
    expect(h.has("4")).toBe(true);
  });

  it("ignores an item whose key it already holds", () => {
    const h = new CappedHistory(5, byId);
    expect(h.push({ id: 1 })).toBe(true);
    expect(h.push({ id: 1 })).toBe(false);
    expect(h.pushAll(items(1, 2, 2, 3))).toBe(2);
    expect(h.toArray().map((i) => i.id)).toEqual([1, 2, 3]);
  });

  it("accepts an evicted key again", () => {
    const h = new CappedHistory(2, byId);
    h.pushAll(items(1, 2, 3));
    expect(h.push({ id: 1 })).toBe(true);
    expect(h.toArray().map((i) => i.id)).toEqual([3, 1]);
  });

  it("merges older items in order and keeps only the newest capacity of the union", () => {
    const h = new CappedHistory(4, byId);
    h.pushAll(items(5, 7, 9));
    h.merge(items(8, 6, 7, 1), (a, b) => a.id - b.id);
    expect(h.toArray().map((i) => i.id)).toEqual([6, 7, 8, 9]);
    // 5 and 1 were pushed out at the old end.
    expect(h.evicted).toBe(2);
    expect(h.has("5")).toBe(false);
    h.push({ id: 10 });
    expect(h.toArray().map((i) => i.id)).toEqual([7, 8, 9, 10]);
  });

  it("filters without copying the rest", () => {
    const h = new CappedHistory(10, byId);
    h.pushAll(items(1, 2, 3, 4, 5, 6));
    expect(h.filter((i) => i.id % 2 === 0).map((i) => i.id)).toEqual([2, 4, 6]);
  });

  it("clears everything, eviction count included", () => {
    const h = new CappedHistory(2, byId);
    h.pushAll(items(1, 2, 3));
    h.clear();
    expect(h.size).toBe(0);
    expect(h.evicted).toBe(0);
    expect(h.push({ id: 2 })).toBe(true);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new CappedHistory(0, byId)).toThrow(RangeError);
    expect(() => new CappedHistory(2.5, byId)).toThrow(RangeError);
  });
});
