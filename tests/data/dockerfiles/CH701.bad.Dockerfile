FROM golang:1.23 AS build
RUN go version
FROM alpine:3.20
COPY --from=biuld /go/bin/app /app
HEALTHCHECK CMD true
USER app
