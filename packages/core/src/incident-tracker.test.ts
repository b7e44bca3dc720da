import { describe, expect, it } from "vitest";
import type { IncidentWindow } from "./incident-contracts.ts";
import { matchingMute, parseCidr, ipInCidr } from "./incident-mutes.ts";
import { syslogLine } from "./incident-notification.ts";
import {
  advanceIncidents,
  finishIncidents,
  incidentFacts,
  incidentTrackerOptions,
  newIncidentTrackerState,
  trackIncidents,
  type IncidentTrackerState,
} from "./incident-tracker.ts";

const OPTIONS = incidentTrackerOptions({ size: 50, stride: 50 });

/** Windows from a pattern: `A` anomalous, `.` normal; window i has score -i/100 when anomalous. */
function windows(pattern: string, extra: (i: number) => Partial<IncidentWindow> = () => ({})) {
  return [...pattern].map((c, i): IncidentWindow => ({
    window: i,
    anomaly: c === "A",
    score: c === "A" ? -(i + 1) / 100 : 0.1,
    modelVersion: "m1",
    ...extra(i),
  }));
}

/** Feeds windows in steps of `sizes` (cycled), then finishes; returns every event. */
function stepped(all: IncidentWindow[], sizes: number[]) {
  let state: IncidentTrackerState = newIncidentTrackerState("u");
  const events = [];
  let at = 0;
  for (let i = 0; at < all.length; i++) {
    const size = sizes[i % sizes.length]!;
    const step = advanceIncidents(state, all.slice(at, at + size), OPTIONS, { now: 1 });
    // The state must survive a trip through JSON, as the live tracker stores it.
    state = JSON.parse(JSON.stringify(step.state)) as IncidentTrackerState;
    events.push(...step.events);
    at += size;
  }
  events.push(...finishIncidents(state, OPTIONS, { now: 2 }).events);
  return events;
}

describe("trackIncidents", () => {
  it("keeps a gap of fewer than 3 normal windows inside and closes after 3", () => {
    //                               0123456789012345
    const incidents = trackIncidents("u", windows("..AA..A...A.AAA."), OPTIONS, () => 7);
    expect(
      incidents.map((i) => [i.firstWindow, i.lastWindow, i.windows, i.anomalousWindows]),
    ).toEqual([
      [2, 6, 5, 3],
      [10, 14, 5, 4],
    ]);
    expect(incidents.map((i) => i.id)).toEqual(["u-1", "u-2"]);
    expect(incidents[0]!.flows).toBe(5 * 50);
    expect(incidents[0]!.worstScore).toBe(-0.07);
    expect(incidents[0]!.meanScore).toBeCloseTo((-0.03 - 0.04 - 0.07) / 3, 15);
    expect(incidents.every((i) => i.state === "closed" && i.closedAt === 7)).toBe(true);
  });

  it("closes an incident still open at the end of the source", () => {
    const incidents = trackIncidents("u", windows("...AA"), OPTIONS);
    expect(incidents.map((i) => [i.firstWindow, i.lastWindow])).toEqual([[3, 4]]);
  });

  it("aggregates victims, sources, ports and features over the anomalous windows", () => {
    const extra = (i: number): Partial<IncidentWindow> => ({
      start: `2017-07-07T15:${String(10 + i).padStart(2, "0")}:00.000Z`,
      end: `2017-07-07T15:${String(10 + i).padStart(2, "0")}:30.000Z`,
      victims: [
        { ip: "192.168.10.50", flows: 40 },
        { ip: i % 2 === 0 ? "10.0.0.1" : "10.0.0.2", flows: 5 },
      ],
      sources: { top: [{ ip: "172.16.0.1", flows: 45 }], distinct: 3 + i },
      ports: [{ port: 80, protocol: 6, flows: 45 }],
      explanation: [
        { feature: "Flow Packets/s", statistic: "max", value: 1, typical: 0, weight: 0.6 },
        { feature: "Flow Packets/s", statistic: "mean", value: 1, typical: 0, weight: 0.1 },
        { feature: "SYN Flag Count", statistic: "mean", value: 1, typical: 0, weight: 0.3 },
      ],
    });
    const [incident] = trackIncidents("u", windows(".AA.A", extra), OPTIONS);
    expect(incident!.victims).toEqual([
      { ip: "192.168.10.50", flows: 120 },
      { ip: "10.0.0.1", flows: 10 },
      { ip: "10.0.0.2", flows: 5 },
    ]);
    expect(incident!.sources).toEqual({ top: [{ ip: "172.16.0.1", flows: 135 }], distinct: 7 });
    expect(incident!.ports).toEqual([{ port: 80, protocol: 6, flows: 135 }]);
    expect(incident!.features.map((f) => [f.feature, f.windows])).toEqual([
      ["Flow Packets/s", 3],
      ["SYN Flag Count", 3],
    ]);
    expect(incident!.features[0]!.weight).toBeCloseTo(0.7, 12);
    // The gap window 3 counts for traffic time, not for victims.
    expect([incident!.start, incident!.end]).toEqual([
      "2017-07-07T15:11:00.000Z",
      "2017-07-07T15:14:30.000Z",
    ]);
  });

  it("reports null times and empty lists when windows lack the who-and-why fields", () => {
    const [incident] = trackIncidents("u", windows("AA"), OPTIONS);
    expect(incident).toMatchObject({
      start: null,
      end: null,
      victims: [],
      sources: { top: [], distinct: 0 },
      ports: [],
      features: [],
    });
  });
});

describe("advanceIncidents", () => {
  const pattern = ".AA..A...AAAA.A..A...A.A....AA.";

  it("gives the same incidents however the windows are split into steps", () => {
    const all = windows(pattern);
    const facts = (events: ReturnType<typeof stepped>) =>
      events.filter((e) => e.event === "incident.closed").map((e) => incidentFacts(e.incident));
    const whole = facts(stepped(all, [all.length]));
    expect(whole.length).toBe(4);
    for (const sizes of [[1], [2], [3, 1], [5, 7, 2]]) {
      expect(facts(stepped(all, sizes))).toEqual(whole);
    }
  });

  it("emits one opened and one closed per incident, updates only in between", () => {
    const events = stepped(windows(pattern), [1]);
    const byIncident = new Map<string, string[]>();
    for (const e of events) {
      byIncident.set(e.incident.id, [...(byIncident.get(e.incident.id) ?? []), e.event]);
    }
    for (const list of byIncident.values()) {
      expect(list[0]).toBe("incident.opened");
      expect(list.at(-1)).toBe("incident.closed");
      expect(list.filter((e) => e === "incident.opened" || e === "incident.closed").length).toBe(2);
    }
  });

  it("returns the windows each incident gained, gaps included, in order", () => {
    const step = advanceIncidents(newIncidentTrackerState("u"), windows(".AA..A...A"), OPTIONS, {
      now: 1,
    });
    expect(step.windows.get("u-1")!.map((w) => w.window)).toEqual([1, 2, 3, 4, 5]);
    expect(step.windows.get("u-2")!.map((w) => w.window)).toEqual([9]);
  });

  it("skips window indexes it never receives and refuses one behind its position", () => {
    const all = windows("AA...AA");
    // Windows 2-4 dead-lettered: the two runs join, nothing counts as normal.
    const step = advanceIncidents(
      newIncidentTrackerState("u"),
      [all[0]!, all[1]!, all[5]!],
      OPTIONS,
      {
        now: 1,
      },
    );
    expect(step.state.position).toBe(6);
    expect(step.state.open!.anomalousWindows).toBe(3);
    expect(() => advanceIncidents(step.state, [all[4]!], OPTIONS, { now: 1 })).toThrow(RangeError);
  });

  it("marks an incident muted from its first window through the context", () => {
    const all = windows("A", () => ({ victims: [{ ip: "10.1.2.3", flows: 50 }] }));
    const step = advanceIncidents(newIncidentTrackerState("u"), all, OPTIONS, {
      now: 1,
      isMuted: (incident) =>
        matchingMute(
          incident,
          [{ id: "m", cidr: "10.0.0.0/8", port: null, until: 10, reason: "lab", createdAt: 0 }],
          5,
        ) !== null,
    });
    expect(step.events[0]!.incident.muted).toBe(true);
    expect(finishIncidents(step.state, OPTIONS, { now: 2 }).events[0]!.incident.muted).toBe(true);
  });
});

describe("mutes", () => {
  it("matches IPv4 and IPv6 blocks", () => {
    expect(ipInCidr("192.168.10.50", parseCidr("192.168.10.0/24"))).toBe(true);
    expect(ipInCidr("192.168.11.50", parseCidr("192.168.10.0/24"))).toBe(false);
    expect(ipInCidr("192.168.10.50", parseCidr("192.168.10.50"))).toBe(true);
    expect(ipInCidr("2001:db8::1", parseCidr("2001:db8::/32"))).toBe(true);
    expect(ipInCidr("2001:db9::1", parseCidr("2001:db8::/32"))).toBe(false);
    expect(ipInCidr("::ffff:10.0.0.1", parseCidr("::ffff:10.0.0.0/120"))).toBe(true);
    expect(ipInCidr("10.0.0.1", parseCidr("::/0"))).toBe(false);
    expect(() => parseCidr("10.0.0.0/33")).toThrow(/prefix length/);
    expect(() => parseCidr("example.org")).toThrow(/not an IPv4 or IPv6/);
  });

  it("applies a mute only until it expires and only to its port", () => {
    const [incident] = trackIncidents(
      "u",
      windows("A", () => ({
        victims: [{ ip: "10.1.2.3", flows: 50 }],
        ports: [{ port: 53, protocol: 17, flows: 50 }],
      })),
      OPTIONS,
    );
    const mute = { id: "m", cidr: "10.0.0.0/8", port: 53, until: 100, reason: "dns", createdAt: 0 };
    expect(matchingMute(incident!, [mute], 99)).toBe(mute);
    expect(matchingMute(incident!, [mute], 100)).toBeNull();
    expect(matchingMute(incident!, [{ ...mute, port: 80 }], 50)).toBeNull();
  });
});

describe("syslogLine", () => {
  it("is an RFC 5424 line with escaped structured data", () => {
    const [incident] = trackIncidents(
      "up]1",
      windows("A", () => ({ victims: [{ ip: "10.0.0.1", flows: 50 }] })),
      OPTIONS,
    );
    const line = syslogLine(
      { event: "incident.closed", incident: incident! },
      { hostname: "host a", at: Date.UTC(2026, 0, 2, 3, 4, 5, 6), deliveryId: "d1" },
    );
    expect(line).toMatch(
      /^<133>1 2026-01-02T03:04:05\.006Z hosta floodwatch - incident-closed \[incident@32473 event="incident\.closed" id="up\\]1-1" uploadId="up\\]1" state="closed" victim="10\.0\.0\.1" /,
    );
    expect(line).toContain('delivery="d1"] floodwatch incident up]1-1 closed');
  });
});
