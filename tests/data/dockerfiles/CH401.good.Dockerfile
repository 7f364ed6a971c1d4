FROM alpine:3.20
ENV DB_PASSWORD_FILE=/run/secrets/db
HEALTHCHECK CMD true
USER app
