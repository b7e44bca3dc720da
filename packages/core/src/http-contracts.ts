/**
 * The HTTP answers of the API and ingest that are not also stream messages, and the one error
 * body every service answers with. The API produces these; the dashboard and the CLI validate
 * with the same schemas, so an answer's shape is declared once.
 *
 * Imported by the browser through the `@floodwatch/core/http-contracts` subpath, so it pulls in
 * only zod and the few pure modules below.
 */
import { z } from "zod";
import { FLOW_CSV_ERROR_CODES } from "./flow-csv-errors.ts";
import { incidentSchema } from "./incident-contracts.ts";
import {
  modelSummarySchema,
  trainingJobStatusSchema,
  windowResultSchema,
} from "./stream-contracts.ts";
import { modelMetaSchema, trainingJobResultSchema } from "./training-contract.ts";

/**
 * Every `error` code an HTTP answer may carry, snake_case, one list for all services. A client
 * branches on these; the message beside it is for people.
 */
export const ERROR_CODES = [
  // Any service: perimeter, routing, framework and server errors.
  "unauthorized",
  "forbidden_origin",
  "rate_limited",
  "not_found",
  "bad_request",
  "method_not_allowed",
  "not_acceptable",
  "request_timeout",
  "payload_too_large",
  "uri_too_long",
  "unsupported_media_type",
  "unprocessable_entity",
  "upgrade_required",
  "internal_error",
  // The API's query and path parameters and resources.
  "bad_query",
  "bad_path",
  "unknown_upload",
  // The API's incidents.
  "unknown_incident",
  "bad_mute",
  "unknown_mute",
  // The API's model lifecycle.
  "empty_upload",
  "bad_multipart",
  "missing_file",
  "invalid_model",
  "invalid_settings",
  // Ingest's uploads: the flow CSV reader's, then ingest's own.
  ...FLOW_CSV_ERROR_CODES,
  "upload_too_large",
  "no_data_rows",
  "invalid_request",
  "no_active_model",
  "redis_unavailable",
  "shutting_down",
  "client_disconnected",
] as const;
export const errorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes of the 4xx statuses a framework may raise on its own, by status. */
const STATUS_ERROR_CODES: Readonly<Record<number, ErrorCode>> = {
  400: "bad_request",
  401: "unauthorized",
  404: "not_found",
  405: "method_not_allowed",
  406: "not_acceptable",
  408: "request_timeout",
  413: "payload_too_large",
  414: "uri_too_long",
  415: "unsupported_media_type",
  422: "unprocessable_entity",
  426: "upgrade_required",
  429: "rate_limited",
};

/**
 * The code of an error known only by its HTTP status (Fastify's own client errors, a body
 * parser's): the status's name, or `bad_request` for a 4xx without one of its own, or
 * `internal_error` for anything else.
 */
export function errorCodeForStatus(status: number): ErrorCode {
  return (
    STATUS_ERROR_CODES[status] ?? (status >= 400 && status < 500 ? "bad_request" : "internal_error")
  );
}

/** Body of every HTTP error answer: what went wrong and, for bad input, where. */
export const errorBodySchema = z.object({
  error: errorCodeSchema,
  message: z.string(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  missing: z.array(z.string()).optional(),
  seen: z.array(z.string()).optional(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** A registry version as the API shows it: the summary, the training record and the metadata. */
export const modelVersionSchema = modelSummarySchema.extend({
  createdAt: z.string(),
  /** When the version was published to the registry (ms since epoch). */
  publishedAt: z.number(),
  active: z.boolean(),
  training: z.object({
    flows: z.number().int(),
    flowsExcluded: z.number().int(),
    valuesReplaced: z.number().int(),
    windows: z.number().int(),
    fitWindows: z.number().int(),
    validationWindows: z.number().int(),
    trainStride: z.number().int(),
    contentHash: z.string(),
    seed: z.number().int(),
    trees: z.number().int(),
    maxSamples: z.number().int(),
    sources: z.array(z.string()),
    warnings: z.array(z.string()).optional(),
  }),
  meta: modelMetaSchema.nullable(),
});
export type ModelVersion = z.infer<typeof modelVersionSchema>;

/** `GET /api/models`: every version, newest first. */
export const modelListSchema = z.object({
  active: z.string().nullable(),
  models: z.array(modelVersionSchema),
});
export type ModelList = z.infer<typeof modelListSchema>;

/** `202` answer of `POST /api/models`: the training job it queued. */
export const trainingAcceptedSchema = z.object({ jobId: z.string().min(1) });
export type TrainingAccepted = z.infer<typeof trainingAcceptedSchema>;

/** `GET /api/models/jobs/:id`: the job's status, plus its result once completed. */
export const trainingJobViewSchema = trainingJobStatusSchema.extend({
  result: trainingJobResultSchema.optional(),
});
export type TrainingJobView = z.infer<typeof trainingJobViewSchema>;

/** `POST /api/models/publish`: the version, whether it is active and whether it was new. */
export const modelPublishedSchema = z.object({
  version: z.string(),
  active: z.boolean(),
  created: z.boolean(),
});
export type ModelPublished = z.infer<typeof modelPublishedSchema>;

/** `POST /api/models/:version/activate`: the active version and the one it replaced. */
export const modelActivatedSchema = z.object({
  active: z.string(),
  previous: z.string().nullable(),
});
export type ModelActivated = z.infer<typeof modelActivatedSchema>;

/** `GET /api/incidents/:id`: one incident with its windows (index order, gaps included). */
export const incidentDetailSchema = z.object({
  incident: incidentSchema,
  windows: z.array(windowResultSchema),
});
export type IncidentDetail = z.infer<typeof incidentDetailSchema>;
