/**
 * The browser's client of the API and ingest. Every answer is validated with the shared contracts
 * before the dashboard uses it; a 401 asks the analyst for the token once and retries.
 */
import {
  deadLetterSchema,
  summarySchema,
  trainingJobStatusSchema,
  uploadAcceptedSchema,
  uploadStatusSchema,
  windowResultSchema,
  type DeadLetter,
  type Summary,
  type TrainingJobStatus,
  type UploadAccepted,
  type UploadStatus,
  type WindowResult,
} from "@floodwatch/core/stream-contracts";
import {
  errorBodySchema,
  incidentDetailSchema,
  modelListSchema,
  modelVersionSchema,
  trainingAcceptedSchema,
  type ErrorBody,
  type IncidentDetail,
  type ModelVersion,
} from "@floodwatch/core/http-contracts";
import {
  endpointStatusSchema,
  incidentSchema,
  muteSchema,
  type EndpointStatus,
  type Incident,
  type Mute,
  type MuteRequest,
} from "@floodwatch/core/incident-contracts";
import { z } from "zod";
import type { AuthGate } from "./auth-gate.ts";

/** One published model, as `GET /api/models` lists it (core's schema). */
export type ModelListEntry = ModelVersion;

/**
 * `GET /api/models` read into its versions, newest first. A bare array of versions is accepted
 * too, the shape first agreed on; both are core's schemas.
 */
const modelVersionsAnswerSchema = z.union([
  z.array(modelVersionSchema),
  modelListSchema.transform((list) => list.models),
]);

/** An HTTP answer that is not the expected one, with the server's error body when it sent one. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    message: string,
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    readonly body: ErrorBody | null = null,
  ) {
    super(message);
  }
}

/** Progress of a request body being sent. */
export type SendProgress = (sentBytes: number, totalBytes: number) => void;

/** An upload in flight. */
export interface PendingUpload<T> {
  result: Promise<T>;
  abort(): void;
}

/** Options of the model training form; unset fields take the trainer's defaults. */
export interface TrainingOptions {
  window?: number;
  stride?: number;
  trainStride?: number;
  trees?: number;
  maxSamples?: number;
  quantile?: number;
  seed?: number;
  /** Feature names, comma separated in the form. */
  features?: string[];
}

/** Parameters of `GET /api/windows`. */
export interface WindowQuery {
  uploadId?: string;
  anomaliesOnly?: boolean;
  limit?: number;
}

/** Where the browser finds the API and ingest, plus the token gate. */
export interface ApiClientOptions {
  apiUrl: string;
  ingestUrl: string;
  auth: AuthGate;
  fetch?: typeof fetch;
  /** XMLHttpRequest constructor; injectable for tests. */
  xhr?: () => XMLHttpRequest;
}

/** REST calls of the dashboard. */
export class ApiClient {
  readonly apiUrl: string;
  readonly ingestUrl: string;
  readonly #auth: AuthGate;
  readonly #fetch: typeof fetch;
  readonly #xhr: () => XMLHttpRequest;

  constructor(options: ApiClientOptions) {
    this.apiUrl = options.apiUrl;
    this.ingestUrl = options.ingestUrl;
    this.#auth = options.auth;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#xhr = options.xhr ?? (() => new XMLHttpRequest());
  }

  /** WebSocket URL of the live feed: the API URL with `ws:`/`wss:` and `/ws` appended. */
  liveUrl(): string {
    // Appended, not resolved from the root, so an API behind a path prefix keeps it.
    const url = new URL(`${this.apiUrl}/ws`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  }

  summary(): Promise<Summary> {
    return this.#getJson("/api/summary", summarySchema);
  }

  uploads(): Promise<UploadStatus[]> {
    return this.#getJson("/api/uploads", z.array(uploadStatusSchema));
  }

  upload(uploadId: string): Promise<UploadStatus> {
    return this.#getJson(`/api/uploads/${encodeURIComponent(uploadId)}`, uploadStatusSchema);
  }

  /** Windows newest first, as the API answers. */
  windows(query: WindowQuery = {}): Promise<WindowResult[]> {
    const params = new URLSearchParams();
    if (query.uploadId !== undefined) params.set("uploadId", query.uploadId);
    if (query.anomaliesOnly === true) params.set("anomaliesOnly", "true");
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    const search = params.size > 0 ? `?${params.toString()}` : "";
    return this.#getJson(`/api/windows${search}`, z.array(windowResultSchema));
  }

  deadLetters(): Promise<DeadLetter[]> {
    return this.#getJson("/api/dead-letters", z.array(deadLetterSchema));
  }

  /** Incidents, open ones first (`GET /api/incidents`). */
  incidents(query: { uploadId?: string; limit?: number } = {}): Promise<Incident[]> {
    const params = new URLSearchParams();
    if (query.uploadId !== undefined) params.set("uploadId", query.uploadId);
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    const search = params.size > 0 ? `?${params.toString()}` : "";
    return this.#getJson(`/api/incidents${search}`, z.array(incidentSchema));
  }

  /** One incident with its windows. */
  incident(id: string): Promise<IncidentDetail> {
    return this.#getJson(`/api/incidents/${encodeURIComponent(id)}`, incidentDetailSchema);
  }

  mutes(): Promise<Mute[]> {
    return this.#getJson("/api/mutes", z.array(muteSchema));
  }

  async addMute(mute: MuteRequest): Promise<Mute> {
    const response = await this.#request("/api/mutes", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(mute),
    });
    return muteSchema.parse(await response.json());
  }

  async removeMute(id: string): Promise<void> {
    await this.#request(`/api/mutes/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  /** The last notification outcome per endpoint. */
  deliveryEndpoints(): Promise<EndpointStatus[]> {
    return this.#getJson("/api/deliveries/endpoints", z.array(endpointStatusSchema));
  }

  models(): Promise<ModelListEntry[]> {
    return this.#getJson("/api/models", modelVersionsAnswerSchema);
  }

  trainingJob(jobId: string): Promise<TrainingJobStatus> {
    return this.#getJson(`/api/models/jobs/${encodeURIComponent(jobId)}`, trainingJobStatusSchema);
  }

  /** Makes `version` the active model. */
  async activateModel(version: string): Promise<void> {
    await this.#request(`/api/models/${encodeURIComponent(version)}/activate`, { method: "POST" });
  }

  /** The model file of `version`, as a Blob to save. */
  async downloadModel(version: string): Promise<Blob> {
    const response = await this.#request(`/api/models/${encodeURIComponent(version)}/download`, {
      method: "GET",
    });
    return response.blob();
  }

  /**
   * Sends a flow CSV to ingest (`POST /api/uploads`), with the zone of its naive timestamps when
   * one is given (ingest takes them as UTC otherwise).
   */
  uploadFlows(
    file: File,
    onProgress: SendProgress,
    options: { timestampZone?: string } = {},
  ): PendingUpload<UploadAccepted> {
    return this.#sendMultipart(
      `${this.ingestUrl}/api/uploads`,
      () => {
        const form = new FormData();
        // Before the file: ingest reads the fields that precede it.
        if (options.timestampZone !== undefined) {
          form.append("timestampZone", options.timestampZone);
        }
        form.append("file", file, file.name);
        return form;
      },
      201,
      uploadAcceptedSchema,
      onProgress,
    );
  }

  /** Sends a benign CSV to train a model (`POST /api/models`); resolves with the job id. */
  trainModel(
    file: File,
    options: TrainingOptions,
    onProgress: SendProgress,
  ): PendingUpload<{ jobId: string }> {
    return this.#sendMultipart(
      `${this.apiUrl}/api/models`,
      () => {
        const form = new FormData();
        // Options first: a streaming server can read them before the (large) file.
        for (const [name, value] of Object.entries(options)) {
          if (value === undefined) continue;
          form.append(name, Array.isArray(value) ? value.join(",") : String(value));
        }
        form.append("file", file, file.name);
        return form;
      },
      202,
      trainingAcceptedSchema,
      onProgress,
    );
  }

  async #getJson<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    const response = await this.#request(path, { method: "GET" });
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new ApiError(`the answer from ${path} is not JSON`, 502);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new ApiError(`unexpected answer from ${path}: ${z.prettifyError(parsed.error)}`, 502);
    }
    return parsed.data;
  }

  /** A fetch to the API that retries after the analyst gives a token, and fails on non-2xx. */
  async #request(path: string, init: RequestInit): Promise<Response> {
    const url = `${this.apiUrl}${path}`;
    for (;;) {
      const sentToken = this.#auth.token();
      let response: Response;
      try {
        response = await this.#fetch(url, {
          ...init,
          headers: {
            Accept: "application/json",
            ...(init.headers as Record<string, string> | undefined),
            ...this.#auth.headers(),
          },
        });
      } catch {
        throw new ApiError(`cannot reach the API at ${this.apiUrl}`, 0);
      }
      if (response.status === 401) {
        await this.#auth.unauthorized(sentToken);
        continue;
      }
      if (!response.ok) throw await apiErrorOf(response);
      return response;
    }
  }

  #sendMultipart<T>(
    url: string,
    buildForm: () => FormData,
    expectedStatus: number,
    schema: z.ZodType<T>,
    onProgress: SendProgress,
  ): PendingUpload<T> {
    let current: XMLHttpRequest | null = null;
    let aborted = false;
    const sendOnce = (): Promise<{ status: number; body: unknown; sentToken: string | null }> =>
      new Promise((resolve, reject) => {
        const xhr = this.#xhr();
        current = xhr;
        const sentToken = this.#auth.token();
        xhr.open("POST", url);
        for (const [name, value] of Object.entries(this.#auth.headers())) {
          xhr.setRequestHeader(name, value);
        }
        xhr.setRequestHeader("Accept", "application/json");
        xhr.upload.onprogress = (event) => {
          if (event.lengthComputable) onProgress(event.loaded, event.total);
        };
        xhr.onload = () => {
          resolve({ status: xhr.status, body: parseJson(xhr.responseText), sentToken });
        };
        xhr.onerror = () => reject(new ApiError(`cannot reach ${new URL(url).origin}`, 0));
        xhr.onabort = () => reject(new ApiError("upload cancelled", 0));
        xhr.send(buildForm());
      });
    const result = (async () => {
      for (;;) {
        const { status, body, sentToken } = await sendOnce();
        if (status === 401 && !aborted) {
          await this.#auth.unauthorized(sentToken);
          continue;
        }
        if (status !== expectedStatus) {
          const error = errorBodySchema.safeParse(body);
          throw new ApiError(
            error.success ? error.data.message : `the server answered HTTP ${status}`,
            status,
            error.success ? error.data : null,
          );
        }
        const parsed = schema.safeParse(body);
        if (!parsed.success) {
          throw new ApiError(`unexpected answer: ${z.prettifyError(parsed.error)}`, 502);
        }
        return parsed.data;
      }
    })();
    return {
      result,
      abort: () => {
        aborted = true;
        current?.abort();
      },
    };
  }
}

async function apiErrorOf(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: the status alone explains it.
  }
  const error = errorBodySchema.safeParse(body);
  return new ApiError(
    error.success ? error.data.message : `the server answered HTTP ${response.status}`,
    response.status,
    error.success ? error.data : null,
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
