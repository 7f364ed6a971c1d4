FROM debian:bookworm
RUN apt-get update && apt-get install -y curl=7.88.1-10
HEALTHCHECK CMD true
USER app
