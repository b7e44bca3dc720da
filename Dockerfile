# syntax=docker/dockerfile:1.7
#
# One Dockerfile for every floodwatch process. Two final targets:
#
#   service    ingest, detector, api, trainer or incidents: docker build --target service --build-arg SERVICE=api .
#   dashboard  the Next.js dashboard:           docker build --target dashboard .
#
# docker-compose.yml builds each service with the right target and SERVICE.
#
# The services are source-first TypeScript run by tsx, exactly as in development (`pnpm start`):
# no second, bundled artefact that could behave differently from what the tests ran. tsx is a
# production dependency of each service so that `pnpm deploy --prod` ships it; it compiles each
# module once at start (esbuild, milliseconds), so there is no cost per request.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
# The workspace with every dependency installed from the lockfile.
FROM ${NODE_IMAGE} AS workspace
ENV PNPM_HOME=/pnpm \
    PATH=/pnpm:$PATH \
    CI=true \
    COREPACK_ENABLE_DOWNLOAD_PROMPT=0 \
    NEXT_TELEMETRY_DISABLED=1
# corepack installs the pnpm version pinned by package.json's packageManager; a recent corepack
# because older ones cannot verify the signatures of current pnpm releases.
RUN npm install --global corepack@0.36.0 && corepack enable
WORKDIR /repo
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json .npmrc ./
# Downloads every package of the lockfile into the store, from the lockfile alone: this layer
# stays cached until the lockfile changes, whatever happens to the sources.
RUN --mount=type=cache,id=floodwatch-pnpm-store,target=/pnpm/store pnpm fetch
COPY . .
RUN --mount=type=cache,id=floodwatch-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --offline

# ---------------------------------------------------------------------------------------------
# One service with its production dependencies only (workspace packages copied in).
FROM workspace AS service-build
ARG SERVICE
RUN case "$SERVICE" in \
      ingest|detector|api|trainer|incidents) ;; \
      *) echo "build with --build-arg SERVICE=ingest|detector|api|trainer|incidents (got '$SERVICE')" >&2; exit 1 ;; \
    esac
# --legacy: pnpm 10 deploys a non-injected workspace only with the older implementation.
RUN --mount=type=cache,id=floodwatch-pnpm-store,target=/pnpm/store \
    pnpm --filter "@floodwatch/${SERVICE}" --prod deploy --legacy /out
RUN test -x /out/node_modules/.bin/tsx \
    || { echo "@floodwatch/${SERVICE} must list tsx in its dependencies" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# The dashboard: a production `next build`, then its production dependencies and the build.
FROM workspace AS dashboard-build
RUN pnpm --filter @floodwatch/dashboard build
RUN --mount=type=cache,id=floodwatch-pnpm-store,target=/pnpm/store \
    pnpm --filter @floodwatch/dashboard --prod deploy --legacy /out \
    && rm -rf /out/.next \
    && cp -R apps/dashboard/.next /out/.next \
    && rm -rf /out/.next/cache

# ---------------------------------------------------------------------------------------------
# What every runtime image shares: Node, a non-root user, the health probe.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1
# The probe uses Node's fetch: slim images have no curl or wget.
COPY docker/healthcheck.mjs /usr/local/lib/floodwatch/healthcheck.mjs
WORKDIR /app
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["node", "/usr/local/lib/floodwatch/healthcheck.mjs"]

# ---------------------------------------------------------------------------------------------
FROM runtime AS service
ARG SERVICE
ENV FLOODWATCH_SERVICE=${SERVICE}
# The code stays owned by root: the process, running as `node`, can read it but not change it.
COPY --from=service-build /out /app
USER node
# Node itself is PID 1, so SIGTERM reaches the service's one shutdown path.
CMD ["node", "--import", "tsx", "src/main.ts"]

# ---------------------------------------------------------------------------------------------
FROM runtime AS dashboard
ENV FLOODWATCH_SERVICE=dashboard
COPY --from=dashboard-build /out /app
USER node
# `exec` so that Next, not the shell, is the process that receives SIGTERM.
CMD ["sh", "-c", "exec node node_modules/next/dist/bin/next start --port \"${DASHBOARD_PORT:-3000}\""]
