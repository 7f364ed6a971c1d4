FROM golang:1.23 AS build
FROM alpine:3.20 AS build
HEALTHCHECK CMD true
USER app
