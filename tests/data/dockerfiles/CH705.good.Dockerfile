FROM alpine:3.20
CMD ["b"]
HEALTHCHECK CMD true
USER app
