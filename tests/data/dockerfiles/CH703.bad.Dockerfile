ARG TAG="bad tag"
FROM alpine:${TAG}
HEALTHCHECK CMD true
USER app
