/**
 * The model lifecycle over HTTP: train a new version in the background from an uploaded CSV,
 * list and inspect versions, download one, publish a local model file, and activate (or roll
 * back to) a version.
 *
 * A Fastify plugin registered without `fastify-plugin`, so it is encapsulated: the content-type
 * parsers it needs (streamed CSV and multipart bodies, model files as text) apply to its routes
 * only and never clash with the host app's.
 */
import { randomUUID } from "node:crypto";
import { basename } from "node:path";
import { Readable } from "node:stream";
import {
  ModelFileError,
  decodeModelMeta,
  describeSettingsError,
  modelSummaryOf,
  parseModel,
  queuedProgress,
  trainingJobResultSchema,
  trainingJobStatusSchema,
  trainingSettingsSchema,
  type ModelActivated,
  type ModelList,
  type ModelPublished,
  type ModelVersion,
  type RedisKeys,
  type TrainingAccepted,
  type TrainingJobStatus,
  type TrainingJobView,
  type TrainingSettings,
} from "@floodwatch/core";
import {
  UnknownModelError,
  activateModel,
  activeModelVersion,
  loadModel,
  modelFileText,
  publishModel,
  type Logger,
} from "@floodwatch/platform";
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import { z } from "zod";
import { ApiError } from "../errors.ts";
import { MultipartError, multipartBoundary, readMultipart } from "./multipart.ts";
import type { TrainingQueue } from "./training-queue.ts";
import { TrainingInputWriter, UploadTooLargeError } from "./training-upload.ts";

/** What the plugin is built from. */
export interface ModelRoutesOptions {
  /** Command connection (registry reads and writes, upload pieces, pub/sub publishing). */
  redis: Redis;
  keys: RedisKeys;
  /** The training queue; the host opens and closes it (see `openTrainingQueue`). */
  queue: TrainingQueue;
  logger: Logger;
  /** Largest training CSV accepted, in bytes (`TRAINING_MAX_UPLOAD_BYTES`); 413 above. */
  maxUploadBytes: number;
  /** Largest model file `POST /api/models/publish` accepts (default 32 MiB). */
  maxModelBytes?: number;
}

/**
 * A model file with a thousand trees is about 3 MiB; 32 MiB leaves room for ten thousand while
 * still refusing a body that cannot be a model.
 */
const DEFAULT_MAX_MODEL_BYTES = 32 << 20;
/** Bodies streamed to Redis as training input: a CSV as itself, or inside a multipart form. */
const STREAMED_CONTENT_TYPES = [
  "text/csv",
  "application/csv",
  "text/plain",
  // What browsers on Windows call a .csv file, and what generic clients send.
  "application/vnd.ms-excel",
  "application/octet-stream",
  "multipart/form-data",
];
/** Form fields other than the file are settings: a few bytes each, a handful of them. */
const MAX_FORM_FIELD_BYTES = 64 * 1024;
const MAX_FORM_FIELDS = 32;
/** Versions are 12 hex digits; anything that is not even key-safe cannot name one. */
const VERSION_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
const JOB_ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * Answers a client error from inside the plugin: it is registered in hosts without the API's
 * error handler too (the CLI's test fixture), so it sends the error body itself.
 */
function sendProblem(reply: FastifyReply, problem: ApiError): FastifyReply {
  return reply.code(problem.statusCode).send(problem.body());
}

/** The model routes; register with `app.register(modelRoutes, options)`. */
export const modelRoutes: FastifyPluginCallback<ModelRoutesOptions> = (app, options, done) => {
  const { redis, keys, queue, logger, maxUploadBytes } = options;
  const maxModelBytes = options.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES;
  const isActive = async (version: string) => (await activeModelVersion(redis, keys)) === version;

  // Parsers of this context only. The host may have its own for the same types (its upload
  // route, its JSON bodies); replacing them here leaves the host's untouched.
  for (const type of STREAMED_CONTENT_TYPES) {
    if (app.hasContentTypeParser(type)) app.removeContentTypeParser(type);
    app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }
  if (app.hasContentTypeParser("application/json")) app.removeContentTypeParser("application/json");
  app.addContentTypeParser(
    "application/json",
    { parseAs: "string", bodyLimit: maxModelBytes },
    (_request, body, done) => done(null, body),
  );

  app.post("/api/models", async (request, reply) => {
    const jobId = randomUUID();
    const writer = new TrainingInputWriter(redis, keys.trainingInput(jobId), maxUploadBytes);
    try {
      const upload = await receiveTrainingUpload(request, writer, maxUploadBytes);
      await writer.finish();
      if (writer.bytes === 0) {
        throw new ApiError(400, "empty_upload", "the training file is empty");
      }
      // Announced before it is queued, so no client hears "waiting" after the trainer's first
      // progress report.
      const status: TrainingJobStatus = {
        jobId,
        state: "waiting",
        progress: queuedProgress(upload.settings.trees),
      };
      await redis.publish(
        keys.trainingChannel,
        JSON.stringify(trainingJobStatusSchema.parse(status)),
      );
      await queue.add(
        "train",
        {
          name: upload.name,
          inputKey: writer.key,
          inputBytes: writer.bytes,
          inputChunks: writer.chunks,
          settings: upload.settings,
          submittedAt: Date.now(),
        },
        { jobId },
      );
      logger.info({ jobId, name: upload.name, bytes: writer.bytes }, "training job queued");
      const accepted: TrainingAccepted = { jobId };
      return reply.code(202).send(accepted);
    } catch (error) {
      await writer.discard();
      if (error instanceof UploadTooLargeError) {
        // Stop reading: the rest of a too-large body is not worth receiving.
        reply.header("connection", "close");
        return sendProblem(reply, new ApiError(413, "payload_too_large", error.message));
      }
      if (error instanceof MultipartError) {
        return sendProblem(reply, new ApiError(400, "bad_multipart", error.message));
      }
      if (error instanceof ApiError) return sendProblem(reply, error);
      throw error;
    }
  });

  app.get("/api/models", async () => {
    const [entries, active] = await Promise.all([
      redis.zrevrange(keys.models, 0, -1, "WITHSCORES"),
      activeModelVersion(redis, keys),
    ]);
    const models: ModelVersion[] = [];
    for (let i = 0; i < entries.length; i += 2) {
      const version = entries[i]!;
      const entry = await describeVersion(redis, keys, version, Number(entries[i + 1]), active);
      if (entry !== null) models.push(entry);
    }
    const list: ModelList = { active, models };
    return list;
  });

  app.get<{ Params: { id: string } }>("/api/models/jobs/:id", async (request, reply) => {
    const { id } = request.params;
    // State first: the job read after it is at least as far along, so a completed state always
    // comes with its result.
    const state = JOB_ID_PATTERN.test(id) ? await queue.getJobState(id) : "unknown";
    const job = state === "unknown" ? undefined : await queue.getJob(id);
    if (!job) {
      return sendProblem(reply, new ApiError(404, "not_found", `no training job ${id}`));
    }
    const progress = trainingJobStatusSchema.shape.progress.safeParse(job.progress);
    const view: TrainingJobView = {
      jobId: id,
      state: state === "active" || state === "completed" || state === "failed" ? state : "waiting",
      progress: progress.success ? progress.data : queuedProgress(job.data.settings.trees),
    };
    if (state === "completed") {
      const result = trainingJobResultSchema.safeParse(job.returnvalue);
      if (result.success) {
        view.version = result.data.version;
        view.result = result.data;
      }
    }
    if (state === "failed") view.error = job.failedReason;
    return view;
  });

  app.post("/api/models/publish", async (request, reply) => {
    const query = z
      .strictObject({ activate: z.enum(["true", "false", "1", "0"]).optional() })
      .safeParse(request.query);
    if (!query.success) {
      const issue = query.error.issues[0]!;
      const field = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : "activate";
      return sendProblem(
        reply,
        new ApiError(400, "bad_request", `invalid parameter ${field}: ${issue.message}`),
      );
    }
    const activate =
      query.data.activate === undefined || ["true", "1"].includes(query.data.activate);
    if (typeof request.body !== "string") {
      return sendProblem(
        reply,
        new ApiError(415, "unsupported_media_type", "send the model file as application/json"),
      );
    }
    let model;
    try {
      model = parseModel(request.body);
    } catch (error) {
      if (error instanceof ModelFileError) {
        return sendProblem(reply, new ApiError(400, "invalid_model", error.message));
      }
      throw error;
    }
    const created = (await redis.exists(keys.model(model.version))) === 0;
    // A version trained here keeps its training metadata when its file is published again.
    await redis.hsetnx(keys.modelMeta(model.version), "origin", "published");
    await publishModel(redis, keys, model, { activate });
    logger.info({ version: model.version, activate, created }, "model published");
    const published: ModelPublished = {
      version: model.version,
      active: activate || (await isActive(model.version)),
      created,
    };
    return reply.code(created ? 201 : 200).send(published);
  });

  app.get<{ Params: { version: string } }>("/api/models/:version", async (request, reply) => {
    const { version } = request.params;
    const publishedAt = VERSION_PATTERN.test(version)
      ? await redis.zscore(keys.models, version)
      : null;
    const entry =
      publishedAt === null
        ? null
        : await describeVersion(
            redis,
            keys,
            version,
            Number(publishedAt),
            await activeModelVersion(redis, keys),
          );
    if (entry === null) return sendProblem(reply, unknownVersion(version));
    return entry;
  });

  app.get<{ Params: { version: string } }>(
    "/api/models/:version/download",
    async (request, reply) => {
      const { version } = request.params;
      const text = VERSION_PATTERN.test(version) ? await modelFileText(redis, keys, version) : null;
      if (text === null) return sendProblem(reply, unknownVersion(version));
      return reply
        .header("content-type", "application/json; charset=utf-8")
        .header("content-disposition", `attachment; filename="floodwatch-model-${version}.json"`)
        .send(text);
    },
  );

  app.post<{ Params: { version: string } }>(
    "/api/models/:version/activate",
    async (request, reply) => {
      const { version } = request.params;
      if (!VERSION_PATTERN.test(version)) return sendProblem(reply, unknownVersion(version));
      const previous = await activeModelVersion(redis, keys);
      try {
        await activateModel(redis, keys, version);
      } catch (error) {
        if (error instanceof UnknownModelError) return sendProblem(reply, unknownVersion(version));
        throw error;
      }
      logger.info({ version, previous }, "model activated");
      const activated: ModelActivated = { active: version, previous };
      return activated;
    },
  );
  done();
};

function unknownVersion(version: string): ApiError {
  return new ApiError(404, "not_found", `model version ${version} is not in the registry`);
}

/** One version with its summary, training record and metadata; null when its file is gone. */
async function describeVersion(
  redis: Redis,
  keys: RedisKeys,
  version: string,
  publishedAt: number,
  active: string | null,
): Promise<ModelVersion | null> {
  let model;
  try {
    model = await loadModel(redis, keys, version);
  } catch (error) {
    if (error instanceof UnknownModelError) return null;
    throw error;
  }
  const meta = decodeModelMeta(await redis.hgetall(keys.modelMeta(version)));
  return {
    ...modelSummaryOf(model),
    createdAt: model.createdAt,
    publishedAt,
    active: version === active,
    training: { ...model.training, sources: [...model.training.sources] },
    meta,
  };
}

/** A training upload, received: its name and settings (the bytes went to the writer). */
interface TrainingUpload {
  name: string;
  settings: TrainingSettings;
}

/** Query parameters and form fields besides the settings. */
const NAME_FIELD = "name";
const FILE_FIELD = "file";

function parseSettings(input: Record<string, unknown>): TrainingSettings {
  const parsed = trainingSettingsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ApiError(400, "invalid_settings", describeSettingsError(parsed.error).message);
}

/** A file name as a model source: its last path segment, bounded. */
function uploadName(raw: unknown, fallback: string): string {
  const name = typeof raw === "string" ? basename(raw.replaceAll("\\", "/")).trim() : "";
  return (name || fallback).slice(0, 256);
}

/**
 * Reads the request body into the writer: a bare CSV with settings in the query string, or a
 * multipart form with the CSV in field `file` and settings in fields (or the query string).
 * Settings are checked before the file is read when they come first, so a bad setting never
 * costs an upload.
 */
async function receiveTrainingUpload(
  request: FastifyRequest,
  writer: TrainingInputWriter,
  maxUploadBytes: number,
): Promise<TrainingUpload> {
  const { [NAME_FIELD]: queryName, ...querySettings } = (request.query ?? {}) as Record<
    string,
    unknown
  >;
  const body = requestChunks(request.body);
  const contentType = request.headers["content-type"];
  const boundary = multipartBoundary(contentType);
  if (boundary === null && contentType?.toLowerCase().startsWith("multipart/")) {
    throw new ApiError(400, "bad_multipart", "multipart body without a usable boundary");
  }

  if (boundary === null) {
    const settings = parseSettings(querySettings);
    const declared = Number(request.headers["content-length"]);
    if (declared > maxUploadBytes) throw new UploadTooLargeError(maxUploadBytes);
    if (body) for await (const chunk of body) await writer.write(chunk);
    return { name: uploadName(queryName, "training.csv"), settings };
  }

  if (!body) throw new ApiError(400, "missing_file", `no form field "${FILE_FIELD}"`);
  const fields = new Map<string, string>();
  let current: { field: string; parts: Buffer[]; bytes: number } | null = null;
  let fileName: string | undefined;
  let sawFile = false;
  let inFile = false;
  for await (const event of readMultipart(body, boundary)) {
    if (event.type === "part") {
      if (event.name === FILE_FIELD) {
        if (sawFile) throw new ApiError(400, "bad_request", "more than one file field");
        sawFile = true;
        inFile = true;
        fileName = event.filename;
        parseSettings({ ...querySettings, ...settingsOf(fields) }); // fail before the upload
      } else {
        if (fields.size >= MAX_FORM_FIELDS) {
          throw new ApiError(400, "bad_request", `more than ${MAX_FORM_FIELDS} form fields`);
        }
        current = { field: event.name, parts: [], bytes: 0 };
      }
    } else if (event.type === "data") {
      if (inFile) await writer.write(event.chunk);
      else if (current) {
        current.bytes += event.chunk.length;
        if (current.bytes > MAX_FORM_FIELD_BYTES) {
          throw new ApiError(400, "bad_request", `form field ${current.field} is too long`);
        }
        current.parts.push(event.chunk);
      }
    } else {
      if (current) fields.set(current.field, Buffer.concat(current.parts).toString("utf8"));
      current = null;
      inFile = false;
    }
  }
  if (!sawFile) throw new ApiError(400, "missing_file", `no form field "${FILE_FIELD}"`);
  return {
    name: uploadName(fields.get(NAME_FIELD) ?? queryName ?? fileName, "training.csv"),
    settings: parseSettings({ ...querySettings, ...settingsOf(fields) }),
  };
}

/**
 * The body's chunks. Leaving the loop early (a refused upload) must not destroy the request
 * stream, as a plain `for await` would: on a real connection that resets the socket before the
 * 413 or 400 answer reaches the client.
 */
function requestChunks(body: unknown): AsyncIterable<Buffer> | undefined {
  if (body instanceof Readable) return body.iterator({ destroyOnReturn: false });
  return body as AsyncIterable<Buffer> | undefined;
}

/** The form fields that are settings (everything but the name). */
function settingsOf(fields: Map<string, string>): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [field, value] of fields) if (field !== NAME_FIELD) settings[field] = value;
  return settings;
}
