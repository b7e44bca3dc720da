/** Adds the security headers (see lib/security-headers.ts) to every response. */
import { NextResponse } from "next/server";
import { loadDashboardConfig, runtimeConfigOf } from "./env.ts";
import { securityHeaders } from "./lib/security-headers.ts";

export function proxy(): NextResponse {
  const response = NextResponse.next();
  const headers = securityHeaders(runtimeConfigOf(loadDashboardConfig()));
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}
