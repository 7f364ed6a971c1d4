FROM alpine:3.20
CMD ["a"]
CMD ["b"]
HEALTHCHECK CMD true
USER app
