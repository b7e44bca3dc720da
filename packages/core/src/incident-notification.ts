/**
 * What a notification says: the one-line text of a webhook body and the RFC 5424 syslog line.
 * Pure formatting; sending, signing and retrying live in the incidents service.
 */
import type { IncidentEvent, WebhookBody } from "./incident-contracts.ts";

const VERBS = {
  "incident.opened": "opened",
  "incident.updated": "ongoing",
  "incident.closed": "closed",
} as const;

function formatScore(score: number): string {
  return score.toFixed(3);
}

/**
 * One line a person can act on, e.g. `floodwatch incident u1-2 opened: victim 192.168.10.50
 * (12000 flows), 14 windows, worst score -0.214, driven by Flow Packets/s`.
 */
export function incidentText({ event, incident }: IncidentEvent): string {
  const victim = incident.victims[0];
  const port = incident.ports[0];
  const parts = [
    victim
      ? `victim ${victim.ip}${port ? `:${port.port}` : ""} (${victim.flows} flows)`
      : "victim unknown",
    `${incident.anomalousWindows} anomalous of ${incident.windows} windows`,
    `worst score ${formatScore(incident.worstScore)}`,
  ];
  if (incident.start && incident.end) parts.push(`traffic ${incident.start} to ${incident.end}`);
  if (incident.features.length > 0) {
    parts.push(
      `driven by ${incident.features
        .slice(0, 3)
        .map((f) => f.feature)
        .join(", ")}`,
    );
  }
  return `floodwatch incident ${incident.id} ${VERBS[event]} (upload ${incident.uploadId}): ${parts.join(", ")}`;
}

/** The webhook body of an event. */
export function webhookBody(event: IncidentEvent): WebhookBody {
  return { event: event.event, incident: event.incident, text: incidentText(event) };
}

/** RFC 5424 PARAM-VALUE escaping: `"`, `\` and `]` take a backslash. */
function sdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** RFC 5424 header fields are printable US-ASCII without spaces, at most `max` long. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, "");
  return clean === "" ? "-" : clean.slice(0, max);
}

/** Facility local0 (16): where sites route their own applications' security events. */
const FACILITY_LOCAL0 = 16;
const SEVERITY = { "incident.opened": 2, "incident.updated": 4, "incident.closed": 5 } as const;
/** SD-ID with an enterprise number: names without `@` are reserved for IANA. */
export const SYSLOG_SD_ID = "incident@32473";

/** Settings of a syslog line. */
export interface SyslogLineOptions {
  hostname: string;
  appName?: string;
  procId?: string;
  /** Wall time of the message (ms since epoch). */
  at: number;
  /** The delivery id, so a SIEM can drop duplicates of a retried message. */
  deliveryId: string;
}

/**
 * One RFC 5424 message: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [incident@32473 ...] MSG`, with
 * the incident's key fields as structured data and the summary text as the message.
 */
export function syslogLine(event: IncidentEvent, options: SyslogLineOptions): string {
  const { incident } = event;
  const pri = FACILITY_LOCAL0 * 8 + SEVERITY[event.event];
  const params: [string, string | number | null | undefined][] = [
    ["event", event.event],
    ["id", incident.id],
    ["uploadId", incident.uploadId],
    ["state", incident.state],
    ["victim", incident.victims[0]?.ip],
    ["port", incident.ports[0]?.port],
    ["firstWindow", incident.firstWindow],
    ["lastWindow", incident.lastWindow],
    ["windows", incident.windows],
    ["anomalousWindows", incident.anomalousWindows],
    ["flows", incident.flows],
    ["worstScore", incident.worstScore],
    ["start", incident.start],
    ["end", incident.end],
    ["delivery", options.deliveryId],
  ];
  const sd = params
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}="${sdValue(String(v))}"`)
    .join(" ");
  const msgId = headerField(event.event.replace("incident.", "incident-"), 32);
  return (
    `<${pri}>1 ${new Date(options.at).toISOString()} ${headerField(options.hostname, 255)} ` +
    `${headerField(options.appName ?? "floodwatch", 48)} ${headerField(options.procId ?? "-", 128)} ` +
    `${msgId} [${SYSLOG_SD_ID} ${sd}] ${incidentText(event)}`
  );
}
