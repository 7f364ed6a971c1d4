FROM alpine:3.20
COPY --chmod=0755 helper /usr/local/bin/helper
HEALTHCHECK CMD true
USER app
