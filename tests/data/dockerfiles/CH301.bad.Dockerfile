FROM debian:bookworm
RUN set -eux; \
    curl -fsSLO https://example.org/tool-1.0.tar.gz; \
    tar -xzf tool-1.0.tar.gz -C /opt
HEALTHCHECK CMD true
USER app
