# syntax=docker/dockerfile:1
#
# One image for every Meridian app. The command picks the app (the entrypoint is node):
#
#   docker run meridian dist/apps/gateway/src/main.js     # npm run start:gateway
#   docker run meridian dist/apps/runtime/src/main.js     # npm run start:runtime
#   docker run meridian dist/apps/projector/src/main.js   # npm run start:projector
#   docker run -p 3000:3000 meridian                      # standalone (SQLite in /data)
#
# The apps run compiled (npm run build), not through ts-node: no TypeScript compiler at run time, no
# dev dependencies in the image, a faster start, and nothing written next to the code.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Node 20 images ship npm 10, which ignores package.json "allowScripts" and runs every dependency's
# install script. npm 11 runs only the allowed ones (better-sqlite3 builds its native module,
# @swc/core checks its binary) and, with --strict-allow-scripts, fails the build when a dependency
# brings an install script nobody reviewed.
RUN npm install --global --no-audit --no-fund npm@11.19.1
# better-sqlite3 compiles from source when its prebuilt binary cannot be downloaded.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# node-gyp takes Node's headers from the image (include/node) instead of downloading them.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --strict-allow-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY libs libs
COPY apps apps
# The read-model test kit (under libs) imports test/support, so the build compiles it too.
COPY test/support test/support
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
# The compiled code still imports @meridian/*. These links resolve the aliases as tsconfig.json
# "paths" do in development, without tsconfig-paths (a dev dependency) at run time. Made after the
# prune, which would delete them as extraneous.
RUN mkdir -p node_modules/@meridian \
 && ln -s /app/dist/libs/domain/src node_modules/@meridian/domain \
 && ln -s /app/dist/libs/agents/src node_modules/@meridian/agents \
 && ln -s /app/dist/libs/infrastructure/src node_modules/@meridian/infrastructure

FROM ${NODE_IMAGE} AS app
# MERIDIAN_DATA_DIR only matters to the standalone app (SQLite); the distributed apps use PostgreSQL.
ENV NODE_ENV=production \
    PORT=3000 \
    MERIDIAN_DATA_DIR=/data
WORKDIR /app
# Owned by root and read-only to the app's user: the process cannot rewrite its own code.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
RUN mkdir /data && chown 1000:1000 /data
# The image's "node" user, by number so that Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The same V8 young-generation size as the npm start scripts.
ENTRYPOINT ["node", "--max-semi-space-size=64"]
CMD ["dist/apps/standalone/src/main.js"]
