/**
 * Fastify's per-request log lines ("incoming request", "request completed") at `debug` instead of
 * `info`: at `info` every dashboard poll, probe and scrape is two lines, which buries what a
 * person needs to see. Errors keep Fastify's levels (a 5xx is still an `error` line).
 */
import { LogController, type FastifyReply, type FastifyRequest } from "fastify";

export class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) {
      super.requestCompleted(error, request, reply);
      return;
    }
    if (this.isLogDisabled(request)) return;
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, "request completed");
  }
}
