FROM node:22-slim
RUN npm config set fund false
HEALTHCHECK CMD true
USER app
