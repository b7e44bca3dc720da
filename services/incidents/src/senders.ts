/**
 * Sending one notification to one endpoint: a signed webhook POST or an RFC 5424 syslog line over
 * UDP or TCP. Each send either resolves with its outcome or rejects; retrying is the caller's.
 */
import { createHmac } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect } from "node:net";

/** One place notifications go. */
export interface NotificationEndpoint {
  /** What deliveries and the API call it: never the full URL, which may hold a token. */
  label: string;
  kind: "webhook" | "syslog";
  url: string;
}

/** The outcome of one attempt. */
export interface SendOutcome {
  ok: boolean;
  status: number | null;
  error: string | null;
}

/** How long one attempt may take: well below the delivery lease, so a slow one is not resent. */
export const SEND_TIMEOUT_MS = 10_000;

/** `sha256=<hex>` of HMAC-SHA256 over the raw body. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** The endpoints configured, labelled by kind, position and origin (no path, no query). */
export function configuredEndpoints(
  webhooks: readonly string[],
  syslog: string,
): NotificationEndpoint[] {
  const endpoints: NotificationEndpoint[] = webhooks.map((url, i) => ({
    label: `webhook ${i + 1} ${new URL(url).origin}`,
    kind: "webhook",
    url,
  }));
  if (syslog !== "") endpoints.push({ label: `syslog ${syslog}`, kind: "syslog", url: syslog });
  return endpoints;
}

/** POSTs `body` with the delivery id and, with a secret, its signature. */
export async function sendWebhook(
  url: string,
  body: string,
  headers: { deliveryId: string; event: string; secret: string },
): Promise<SendOutcome> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "floodwatch-notifier",
        "x-floodwatch-event": headers.event,
        "x-floodwatch-delivery": headers.deliveryId,
        ...(headers.secret !== ""
          ? { "x-floodwatch-signature": webhookSignature(headers.secret, body) }
          : {}),
      },
      body,
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      redirect: "manual",
    });
    await response.body?.cancel();
    const ok = response.status >= 200 && response.status < 300;
    return { ok, status: response.status, error: ok ? null : `HTTP ${response.status}` };
  } catch (error) {
    const cause =
      error instanceof Error
        ? ((error.cause as Error | undefined)?.message ?? error.message)
        : String(error);
    return { ok: false, status: null, error: cause };
  }
}

/**
 * Sends one syslog message: a UDP datagram, or on TCP one octet-counted frame (RFC 6587
 * `LEN SP MSG`) on a fresh connection, closed once written.
 */
export async function sendSyslog(url: string, line: string): Promise<SendOutcome> {
  const { protocol, hostname, port } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, "");
  const message = Buffer.from(line, "utf8");
  try {
    if (protocol === "udp:") {
      const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
      try {
        await new Promise<void>((resolve, reject) =>
          socket.send(message, Number(port), host, (error) => (error ? reject(error) : resolve())),
        );
      } finally {
        socket.close();
      }
    } else {
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host, port: Number(port) });
        socket.setTimeout(SEND_TIMEOUT_MS, () => socket.destroy(new Error("syslog TCP timeout")));
        socket.once("error", reject);
        socket.once("connect", () => {
          socket.end(Buffer.concat([Buffer.from(`${message.length} `), message]), () => resolve());
        });
      });
    }
    return { ok: true, status: null, error: null };
  } catch (error) {
    return {
      ok: false,
      status: null,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}
