# One image for both binaries: `sluice-cp` or `sluice-dp` is chosen by the command.
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages ./packages
RUN npm ci && npm prune --omit=dev

FROM node:22-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
RUN mkdir -p /var/lib/sluice && chown node:node /var/lib/sluice /app
USER node
EXPOSE 8000 8001 8002 8005 8100
CMD ["node", "packages/control-plane/bin/sluice-cp.js"]
