FROM alpine:3.20
USER app
HEALTHCHECK --interval=30s CMD wget -q -O /dev/null http://localhost:8080/health || exit 1
