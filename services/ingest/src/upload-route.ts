/**
 * `POST /api/uploads`: a flow CSV as a stream, either as the raw body (`text/csv` and friends)
 * or as the `file` field of a `multipart/form-data` form, with optional `name` and
 * `timestampZone` fields before it (the `?name=` and `?timestampZone=` query parameters win over
 * them). The body is never buffered: the
 * pipeline pulls chunks as it stores them.
 */
import { Readable } from "node:stream";
import multipart from "@fastify/multipart";
import { zoneOffset, type RedisKeys } from "@floodwatch/core";
import type { FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from "fastify";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { IngestConfig } from "./env.ts";
import type { InFlightUploads } from "./in-flight-uploads.ts";
import type { IngestMetrics } from "./ingest-metrics.ts";
import type { ActiveModelCache } from "./model-cache.ts";
import type { ParsePool } from "./parse-pool.ts";
import {
  InvalidUploadRequestError,
  MissingFileFieldError,
  UnsupportedMediaTypeError,
  UploadTooLargeError,
} from "./upload-errors.ts";
import { newUploadId } from "./upload-id.ts";
import { ingestUpload } from "./upload-pipeline.ts";

/**
 * Media types taken as a raw body (browsers and curl label CSV files all of these ways). A pcap
 * or pcapng capture is recognised by its magic number under any of them and metered into flows.
 */
export const CSV_MEDIA_TYPES: readonly string[] = [
  "text/csv",
  "application/csv",
  "text/plain",
  "application/octet-stream",
  "application/vnd.tcpdump.pcap",
  "application/x-pcapng",
];

const MULTIPART_MEDIA_TYPE = "multipart/form-data";

/** Room for a form's envelope (boundaries, part headers, a name field) around the file. */
const MULTIPART_ENVELOPE_BYTES = 64 * 1024;

/** Upload names are labels on the dashboard, not documents. */
const MAX_NAME_LENGTH = 200;

/** What the route needs. */
export interface UploadRouteOptions {
  config: IngestConfig;
  redis: Redis;
  keys: RedisKeys;
  models: ActiveModelCache;
  metrics: IngestMetrics;
  inFlight: InFlightUploads;
  parsePool: ParsePool;
  now: () => number;
}

/** Why a timestamp zone is refused, after the name of where it was given. */
const ZONE_RULE = "must be UTC, a ±hh:mm offset or an IANA time zone name";

function isZone(zone: string | undefined): boolean {
  try {
    zoneOffset(zone);
    return true;
  } catch {
    return false;
  }
}

const uploadQuerySchema = z.object({
  name: z.string({ message: "name must be given once, as text" }).optional(),
  timestampZone: z
    .string({ message: "timestampZone must be given once, as text" })
    .optional()
    .refine(isZone, { message: `timestampZone ${ZONE_RULE}` }),
});

function mediaTypeOf(request: FastifyRequest): string | undefined {
  const header = request.headers["content-type"];
  if (header === undefined || header.trim() === "") return undefined;
  return header.split(";")[0]!.trim().toLowerCase();
}

/** A usable upload name, or undefined when none was given. */
function checkedName(raw: string | undefined, from: string): string | undefined {
  const name = raw?.trim();
  if (name === undefined || name === "") return undefined;
  if (name.length > MAX_NAME_LENGTH) {
    throw new InvalidUploadRequestError(`${from} is longer than ${MAX_NAME_LENGTH} characters`);
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new InvalidUploadRequestError(`${from} holds control characters`);
  }
  return name;
}

/**
 * Refuses what can be refused from the headers alone, before a byte of the body is read. The
 * connection is closed after the answer: reading (and discarding) a body that may be gigabytes
 * would cost more than the client reconnecting.
 */
function checkUploadHeaders(maxUploadBytes: number, metrics: IngestMetrics): onRequestHookHandler {
  return function onRequest(request, reply, done) {
    const refuse = (error: Error) => {
      metrics.uploads.inc({ outcome: "rejected" });
      reply.header("connection", "close");
      done(error);
    };
    const mediaType = mediaTypeOf(request);
    const isMultipart = mediaType === MULTIPART_MEDIA_TYPE;
    if (!isMultipart && (mediaType === undefined || !CSV_MEDIA_TYPES.includes(mediaType))) {
      refuse(new UnsupportedMediaTypeError(mediaType));
      return;
    }
    const declared = Number(request.headers["content-length"]);
    const allowed = maxUploadBytes + (isMultipart ? MULTIPART_ENVELOPE_BYTES : 0);
    if (Number.isFinite(declared) && declared > allowed) {
      refuse(
        new UploadTooLargeError(
          maxUploadBytes,
          `the request declares ${declared} bytes; nothing was read`,
        ),
      );
      return;
    }
    done();
  };
}

/** The CSV of a raw-body upload. */
function rawBodySource(request: FastifyRequest): AsyncIterable<Uint8Array> {
  const stream = request.body instanceof Readable ? request.body : request.raw;
  // Stopping early must not destroy the request: that would close the socket before the
  // answer (413, 422, ...) is written.
  return stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>;
}

/** What a multipart upload carries: the CSV and the form fields sent before it. */
interface MultipartUpload {
  source: AsyncIterable<Uint8Array>;
  name: string | undefined;
  timestampZone: string | undefined;
}

/** The CSV, the name field and the timestampZone field of a multipart upload. */
async function multipartSource(request: FastifyRequest): Promise<MultipartUpload> {
  const part = await request.file();
  if (part === undefined) throw new MissingFileFieldError(undefined);
  if (part.fieldname !== "file") {
    part.file.resume();
    throw new MissingFileFieldError(part.fieldname);
  }
  // Fields are known here only if they came before the file, as FormData sends them in order.
  const text = (field: string): string | undefined => {
    const value = part.fields[field];
    if (value === undefined || Array.isArray(value) || value.type !== "field") return undefined;
    return typeof value.value === "string" ? value.value : undefined;
  };
  const name =
    checkedName(text("name"), "the name field") ?? checkedName(part.filename, "the file name");
  const zone = text("timestampZone")?.trim();
  if (zone !== undefined && zone !== "" && !isZone(zone)) {
    // The file part is not read: the answer goes out at once.
    part.file.resume();
    throw new InvalidUploadRequestError(
      `the timestampZone field ${ZONE_RULE}; got ${JSON.stringify(zone.slice(0, 80))}`,
    );
  }
  return { source: part.file, name, timestampZone: zone === "" ? undefined : zone };
}

/** Registers `POST /api/uploads` in its own scope (its body parsers apply to it alone). */
export const uploadRoute: FastifyPluginAsync<UploadRouteOptions> = async (scope, options) => {
  const { config, redis, keys, models, metrics, inFlight, parsePool, now } = options;
  const maxUploadBytes = config.INGEST_MAX_UPLOAD_BYTES;

  // Hand the body stream to the handler untouched: the default parsers would buffer it.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser([...CSV_MEDIA_TYPES], (_request, payload, done) => {
    done(null, payload);
  });
  await scope.register(multipart, {
    // The pipeline counts the file's bytes itself and answers 413 with what it had queued;
    // busboy's own limit sits just above so it never cuts the file first.
    throwFileSizeLimit: false,
    limits: { fileSize: maxUploadBytes + 1, files: 1, fields: 8, fieldSize: 4096, parts: 16 },
  });

  scope.post(
    "/api/uploads",
    { onRequest: checkUploadHeaders(maxUploadBytes, metrics) },
    async (request, reply) => {
      const controller = new AbortController();
      const untrack = inFlight.track(controller);
      const onClose = () => {
        if (!reply.raw.writableFinished) controller.abort("client-disconnected");
      };
      reply.raw.once("close", onClose);
      // The pipeline counts the outcomes of the uploads it runs; refusals before it, here.
      let pipelineStarted = false;
      try {
        const query = uploadQuerySchema.safeParse(request.query);
        if (!query.success) throw new InvalidUploadRequestError(query.error.issues[0]!.message);
        const queryName = checkedName(query.data.name, "the name parameter");
        const model = await models.active();
        const uploadId = newUploadId(now());
        const { source, name, timestampZone } = request.isMultipart()
          ? await multipartSource(request)
          : { source: rawBodySource(request), name: undefined, timestampZone: undefined };
        // As for the name, the query parameter wins over the form field: a script's URL is the
        // more deliberate of the two.
        const zone = query.data.timestampZone ?? timestampZone;
        pipelineStarted = true;
        const accepted = await ingestUpload(
          {
            uploadId,
            name: queryName ?? name ?? uploadId,
            model,
            source,
            signal: controller.signal,
            clientGone: () => request.raw.destroyed && !request.raw.complete,
            ...(zone === undefined ? {} : { timestampZone: zone }),
          },
          {
            redis,
            keys,
            metrics,
            logger: request.log,
            parsePool,
            now,
            settings: {
              entryFlows: config.INGEST_ENTRY_FLOWS,
              maxBacklogEntries: config.INGEST_MAX_BACKLOG_ENTRIES,
              maxUploadBytes,
              redisTimeoutMs: config.INGEST_REDIS_TIMEOUT_MS,
            },
          },
        );
        return await reply.code(201).send(accepted);
      } catch (error) {
        if (!pipelineStarted) metrics.uploads.inc({ outcome: "rejected" });
        // The rest of the body cannot change the answer; discard it so the client gets to read
        // the answer instead of stalling on a full socket.
        if (!request.raw.complete && !request.raw.destroyed) request.raw.resume();
        throw error;
      } finally {
        untrack();
        reply.raw.off("close", onClose);
      }
    },
  );
};
