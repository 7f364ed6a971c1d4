FROM golang:1.23 AS build
FROM alpine:3.20 AS final
HEALTHCHECK CMD true
USER app
