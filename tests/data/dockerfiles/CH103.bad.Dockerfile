FROM alpine:latest
HEALTHCHECK CMD true
USER app
