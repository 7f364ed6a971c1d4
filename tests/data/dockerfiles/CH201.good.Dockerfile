FROM debian:bookworm
RUN curl -fsSL -o /tmp/t.tgz https://example.org/t.tgz \
 && echo "0000  /tmp/t.tgz" | sha256sum -c -
HEALTHCHECK CMD true
USER app
