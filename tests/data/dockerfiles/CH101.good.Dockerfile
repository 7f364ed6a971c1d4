FROM debian:bookworm-slim
HEALTHCHECK CMD true
USER app
