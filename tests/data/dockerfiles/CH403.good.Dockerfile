FROM alpine:3.20
RUN --mount=type=secret,id=npm_token cat /run/secrets/npm_token > /dev/null
HEALTHCHECK CMD true
USER app
