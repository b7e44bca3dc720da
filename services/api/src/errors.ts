/**
 * HTTP errors of the API and the one error handler: every error answer is an `ErrorBody`. A
 * client error says what was wrong; a server error hides internals and is logged.
 */
import { errorCodeForStatus, type ErrorBody, type ErrorCode } from "@floodwatch/core";
import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import type { z } from "zod";

/**
 * The API's one error class: an error with the HTTP status and body it should answer with.
 * Routes throw it (the error handler answers) or, in an encapsulated plugin without the
 * handler, send {@link ApiError.body} themselves.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly statusCode: number,
    readonly error: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The answer body. */
  body(): ErrorBody {
    return { error: this.error, message: this.message };
  }
}

/**
 * Parses a request's query string (or path parameters) with `schema`; a bad value becomes a 400
 * naming the parameter, e.g. `invalid query parameter limit: Too big: expected number to be
 * <=2000`.
 */
export function parseQuery<S extends z.ZodType>(
  schema: S,
  input: unknown,
  kind: "query" | "path" = "query",
): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.map(String).join(".") || kind}: ${issue.message}`,
  );
  throw new ApiError(
    400,
    kind === "query" ? "bad_query" : "bad_path",
    `invalid ${kind} parameter ${problems.join("; ")}`,
  );
}

/**
 * Answers the errors Fastify's router raises before any handler runs (a malformed URL, a path
 * parameter over the router's length limit) with an `ErrorBody` too.
 */
export function answerFrameworkError(error: FastifyError, reply: FastifyReply): void {
  const status = error.statusCode ?? 400;
  const body: ErrorBody = { error: errorCodeForStatus(status), message: error.message };
  void reply.code(status).send(body);
}

/** Installs the error and not-found handlers that answer with an `ErrorBody`. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) {
      if (error.statusCode >= 500) request.log.error({ err: error }, error.message);
      return reply.code(error.statusCode).send(error.body());
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      // Fastify's own client errors (bad content type, body too large...) are safe to echo.
      const body: ErrorBody = { error: errorCodeForStatus(status), message: error.message };
      return reply.code(status).send(body);
    }
    request.log.error({ err: error }, "request failed");
    const body: ErrorBody = { error: "internal_error", message: "internal server error" };
    return reply.code(500).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      error: "not_found",
      message: `no route ${request.method} ${request.url.split("?")[0]}`,
    };
    return reply.code(404).send(body);
  });
}
