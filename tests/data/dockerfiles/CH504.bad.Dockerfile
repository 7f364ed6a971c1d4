FROM alpine:3.20
COPY --chmod=4755 helper /usr/local/bin/helper
HEALTHCHECK CMD true
USER app
