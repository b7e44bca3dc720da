/**
 * Incidents, mutes and notification deliveries over HTTP, and incident events on the WebSocket.
 * Reads what the incidents service writes; mutes are the one thing written here (token-protected
 * by the perimeter, like every write).
 */
import {
  INCIDENT_STATES,
  muteRequestSchema,
  type IncidentEvent,
  type RedisKeys,
} from "@floodwatch/core";
import {
  MuteRequestError,
  addMute,
  endpointStatuses,
  listIncidents,
  readIncident,
  readMutes,
  recentDeliveries,
  removeMute,
  type Logger,
} from "@floodwatch/platform";
import type { FastifyPluginAsync } from "fastify";
import type { Redis } from "ioredis";
import { z } from "zod";
import { ApiError, parseQuery } from "../errors.ts";
import { IncidentRelay } from "./incident-relay.ts";

/** What the plugin is built from. */
export interface IncidentRoutesOptions {
  /** Command connection; the relay opens (and closes) a duplicate of its own. */
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  /** Receives every incident event from the stream, for the WebSocket. */
  onEvent: (event: IncidentEvent) => void;
  clock?: () => number;
}

const limit = (defaultLimit: number, max: number) =>
  z.coerce.number().int().min(1).max(max).default(defaultLimit);
const incidentsQuerySchema = z.object({
  uploadId: z.string().min(1).max(200).optional(),
  state: z.enum(INCIDENT_STATES).optional(),
  limit: limit(100, 1_000),
});
const deliveriesQuerySchema = z.object({ limit: limit(50, 1_000) });
const idParamsSchema = z.object({ id: z.string().min(1) });

/** See the module comment. */
// Async because Fastify awaits a plugin's registration; nothing here needs to wait.
// eslint-disable-next-line @typescript-eslint/require-await
export const incidentRoutes: FastifyPluginAsync<IncidentRoutesOptions> = async (app, options) => {
  const { redis, keys, logger } = options;
  const clock = options.clock ?? Date.now;

  let relay: IncidentRelay | undefined;
  app.addHook("onReady", async () => {
    relay = new IncidentRelay({
      redis: redis.duplicate({ connectionName: "api-incident-relay" }),
      stream: keys.incidents.events,
      logger,
      onEvent: options.onEvent,
    });
    await relay.start();
  });
  app.addHook("onClose", async () => {
    await relay?.close();
  });

  app.get("/api/incidents", async (request) => {
    const query = parseQuery(incidentsQuerySchema, request.query);
    return listIncidents(redis, keys, query);
  });

  app.get("/api/incidents/:id", async (request) => {
    const { id } = parseQuery(idParamsSchema, request.params, "path");
    const found = await readIncident(redis, keys, id);
    if (!found) throw new ApiError(404, "UnknownIncident", `incident ${id} is not known`);
    return found;
  });

  app.get("/api/mutes", async () => readMutes(redis, keys, clock()));

  app.post("/api/mutes", async (request, reply) => {
    const parsed = muteRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ApiError(400, "BadMute", `${issue.path.join(".") || "body"}: ${issue.message}`);
    }
    try {
      const mute = await addMute(redis, keys, parsed.data, clock());
      return reply.code(201).send(mute);
    } catch (error) {
      if (error instanceof MuteRequestError) throw new ApiError(400, "BadMute", error.message);
      throw error;
    }
  });

  app.delete("/api/mutes/:id", async (request, reply) => {
    const { id } = parseQuery(idParamsSchema, request.params, "path");
    if (!(await removeMute(redis, keys, id))) {
      throw new ApiError(404, "UnknownMute", `mute ${id} is not known`);
    }
    return reply.code(204).send();
  });

  app.get("/api/deliveries", async (request) => {
    const { limit: n } = parseQuery(deliveriesQuerySchema, request.query);
    return recentDeliveries(redis, keys, n);
  });

  app.get("/api/deliveries/endpoints", async () => endpointStatuses(redis, keys));
};
