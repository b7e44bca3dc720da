import { describe, expect, it } from "vitest";
import { securityHeaders } from "./security-headers.ts";

describe("securityHeaders", () => {
  it("lets the page reach only its own API, WebSocket and ingest", () => {
    const headers = securityHeaders({
      apiUrl: "https://api.soc.example:8443",
      ingestUrl: "http://ingest.soc.example:8081",
    });
    const policy = headers["Content-Security-Policy"]!;
    expect(policy).toContain(
      "connect-src 'self' https://api.soc.example:8443 wss://api.soc.example:8443 http://ingest.soc.example:8081",
    );
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("object-src 'none'");
    expect(policy).not.toMatch(/https?:\/\/(?!api\.soc|ingest\.soc)/);
    expect(headers["X-Content-Type-Options"]).toBe("nosniff");
    expect(headers["X-Frame-Options"]).toBe("DENY");
  });
});
