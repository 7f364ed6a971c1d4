FROM alpine:3.20
COPY id_rsa /root/.ssh/id_rsa
HEALTHCHECK CMD true
USER app
