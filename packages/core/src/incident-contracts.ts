/**
 * The contracts of incidents, their events, mutes and notification deliveries: every shape that
 * crosses Redis, HTTP or the WebSocket, as one zod schema each.
 */
import { z } from "zod";

/** Consecutive normal windows that close an incident (`INCIDENT_CLOSE_AFTER_WINDOWS`). */
export const DEFAULT_INCIDENT_CLOSE_AFTER_WINDOWS = 3;

/**
 * The per-window "who and why" fields of a scored window. They are optional and nullable here
 * on purpose: a window carries them only when the file has the columns (and only once the
 * pipeline computes them at all), and the incident tracker must give the same answer either way.
 */
export const windowVictimSchema = z.object({ ip: z.string(), flows: z.number() });
export const windowSourcesSchema = z.object({
  top: z.array(windowVictimSchema),
  distinct: z.number().int().min(0),
});
export const windowPortSchema = z.object({
  port: z.number().int(),
  /** IP protocol number (6 TCP, 17 UDP), or its name when a file gives one. */
  protocol: z.union([z.number().int(), z.string()]).nullable().optional(),
  flows: z.number(),
});
export const windowExplanationItemSchema = z.object({
  feature: z.string(),
  statistic: z.string().optional(),
  value: z.number().nullable().optional(),
  typical: z.number().nullable().optional(),
  weight: z.number(),
});

/**
 * What the incident tracker reads of one scored window: a subset of the results stream's window
 * result, so both the offline command and the live tracker can feed it.
 */
export const incidentWindowSchema = z.object({
  window: z.number().int().min(0),
  score: z.number(),
  anomaly: z.boolean(),
  modelVersion: z.string(),
  start: z.string().nullable().optional(),
  end: z.string().nullable().optional(),
  victims: z.array(windowVictimSchema).nullable().optional(),
  sources: windowSourcesSchema.nullable().optional(),
  ports: z.array(windowPortSchema).nullable().optional(),
  explanation: z.array(windowExplanationItemSchema).nullable().optional(),
});
export type IncidentWindow = z.infer<typeof incidentWindowSchema>;

/** One feature's share in an incident: explanations rolled up over its anomalous windows. */
export const incidentFeatureSchema = z.object({
  feature: z.string(),
  /** Mean weight over the anomalous windows whose explanation names the feature. */
  weight: z.number(),
  /** Anomalous windows whose explanation names the feature. */
  windows: z.number().int(),
});

/** States of an incident. */
export const INCIDENT_STATES = ["open", "closed"] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

/** An incident: a run of anomalous windows of one source, gaps shorter than the close rule inside. */
export const incidentSchema = z.object({
  /** `<uploadId>-<n>`, n from 1 in the order incidents open: the same on every replay. */
  id: z.string(),
  uploadId: z.string(),
  state: z.enum(INCIDENT_STATES),
  /** First and last anomalous window (window indexes). */
  firstWindow: z.number().int(),
  lastWindow: z.number().int(),
  /** Windows from the first to the last anomalous one, short normal gaps included. */
  windows: z.number().int(),
  anomalousWindows: z.number().int(),
  /** Flows covered by the windows from the first to the last anomalous one. */
  flows: z.number().int(),
  /** Lowest decision score (most anomalous) and the mean over the anomalous windows. */
  worstScore: z.number(),
  meanScore: z.number(),
  /** Traffic time (ISO 8601) of the first and last flow, when the file has timestamps. */
  start: z.string().nullable(),
  end: z.string().nullable(),
  /** Wall time (ms since epoch) the incident was opened and closed. */
  openedAt: z.number(),
  closedAt: z.number().nullable(),
  /** Destination IPs, flows summed over the windows' top victims; most flows first. */
  victims: z.array(windowVictimSchema),
  /** Source IPs likewise; `distinct` is the most distinct sources any one window saw. */
  sources: windowSourcesSchema,
  ports: z.array(windowPortSchema),
  features: z.array(incidentFeatureSchema),
  modelVersion: z.string(),
  /** Its top victim matched an active mute: recorded, shown, never notified. */
  muted: z.boolean(),
});
export type Incident = z.infer<typeof incidentSchema>;

/** Events an incident goes through. */
export const INCIDENT_EVENT_TYPES = [
  "incident.opened",
  "incident.updated",
  "incident.closed",
] as const;
export type IncidentEventType = (typeof INCIDENT_EVENT_TYPES)[number];

/** One incident event, as the incident events stream and the WebSocket carry it. */
export const incidentEventSchema = z.object({
  event: z.enum(INCIDENT_EVENT_TYPES),
  incident: incidentSchema,
});
export type IncidentEvent = z.infer<typeof incidentEventSchema>;

/** Body of every webhook POST. */
export const webhookBodySchema = incidentEventSchema.extend({
  /** One-line human summary, so a chat incoming webhook shows something useful as is. */
  text: z.string(),
});
export type WebhookBody = z.infer<typeof webhookBodySchema>;

/** `POST /api/mutes` body. */
export const muteRequestSchema = z.object({
  /** An IPv4 or IPv6 address or CIDR block (`10.0.0.0/8`, `2001:db8::/32`, `192.168.10.50`). */
  cidr: z.string().min(2).max(64),
  /** Only incidents whose top port is this one; any port when absent. */
  port: z.number().int().min(0).max(65_535).optional(),
  /** When the mute stops applying: ISO 8601 or ms since epoch. */
  until: z.union([z.number().int().positive(), z.string().min(1)]),
  reason: z.string().min(1).max(500),
});
export type MuteRequest = z.infer<typeof muteRequestSchema>;

/** A stored mute. */
export const muteSchema = z.object({
  id: z.string(),
  cidr: z.string(),
  port: z.number().int().nullable(),
  /** ms since epoch. */
  until: z.number(),
  reason: z.string(),
  createdAt: z.number(),
});
export type Mute = z.infer<typeof muteSchema>;

/** Kinds of notification endpoint. */
export const ENDPOINT_KINDS = ["webhook", "syslog"] as const;

/** Outcomes of a delivery. */
export const DELIVERY_STATES = ["pending", "delivered", "failed"] as const;

/** One attempt to deliver an event to one endpoint. */
export const deliveryAttemptSchema = z.object({
  at: z.number(),
  ok: z.boolean(),
  /** HTTP status, when there was an answer. */
  status: z.number().int().nullable(),
  error: z.string().nullable(),
});

/** One event for one endpoint, with every attempt. */
export const deliverySchema = z.object({
  /** Stable across retries: sent as `X-Floodwatch-Delivery`. */
  id: z.string(),
  event: z.enum(INCIDENT_EVENT_TYPES),
  incidentId: z.string(),
  endpoint: z.string(),
  kind: z.enum(ENDPOINT_KINDS),
  state: z.enum(DELIVERY_STATES),
  createdAt: z.number(),
  /** When the next attempt is due (pending only). */
  nextAttemptAt: z.number().nullable(),
  attempts: z.array(deliveryAttemptSchema),
});
export type Delivery = z.infer<typeof deliverySchema>;

/** The last outcome per endpoint, for the dashboard. */
export const endpointStatusSchema = z.object({
  endpoint: z.string(),
  kind: z.enum(ENDPOINT_KINDS),
  last: deliverySchema.nullable(),
});
export type EndpointStatus = z.infer<typeof endpointStatusSchema>;

/** A delivery as the notifier stores it: with the exact body it sends on every attempt. */
export const storedDeliverySchema = deliverySchema.extend({
  /** The webhook body or syslog event JSON, fixed at creation so retries send the same bytes. */
  payload: z.string(),
});
export type StoredDelivery = z.infer<typeof storedDeliverySchema>;
