/**
 * Security headers of every dashboard response. The Content-Security-Policy names the API and
 * ingest origins of this deployment, which are only known at run time, so the headers are set
 * per request (src/proxy.ts) rather than baked into the build.
 */
import type { RuntimeConfig } from "../env.ts";

/** The headers for a deployment whose browser talks to `config`'s API and ingest. */
export function securityHeaders(config: RuntimeConfig): Record<string, string> {
  const api = new URL(config.apiUrl);
  const ingest = new URL(config.ingestUrl);
  const socket = `${api.protocol === "https:" ? "wss:" : "ws:"}//${api.host}`;
  const policy = [
    "default-src 'self'",
    // Next.js bootstraps hydration with inline scripts; nothing else may run, and nothing remote.
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self' ${api.origin} ${socket} ${ingest.origin}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  return {
    "Content-Security-Policy": policy,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
  };
}
