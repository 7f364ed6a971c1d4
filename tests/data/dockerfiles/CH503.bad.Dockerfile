FROM alpine:3.20
RUN mkdir /data && chmod 777 /data
HEALTHCHECK CMD true
USER app
