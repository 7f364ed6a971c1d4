FROM node:22-slim
RUN npm config set strict-ssl false
HEALTHCHECK CMD true
USER app
