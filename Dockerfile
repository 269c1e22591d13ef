# syntax=docker/dockerfile:1

# ---- build: install everything, compile TypeScript, drop dev dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY examples ./examples
COPY migrations ./migrations
# `npm ci` runs the `prepare` script, which compiles to dist/.
RUN npm ci --no-audit --no-fund \
 && test -f dist/src/cli/main.js \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: production dependencies and compiled code only ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/examples ./examples
# The files stay owned by root (read-only for the process); it runs as `node`.
USER node
# Subcommands: `migrate`, `start [--app <module>]`. Override the whole command,
# e.g. ["node", "dist/src/cli/main.js", "migrate"].
CMD ["node", "dist/src/cli/main.js", "start"]
