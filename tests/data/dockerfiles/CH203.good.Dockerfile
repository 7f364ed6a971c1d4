FROM debian:bookworm
RUN wget -O /tmp/a.tgz https://example.org/a.tgz; sha256sum -c /tmp/a.tgz.sha256
HEALTHCHECK CMD true
USER app
