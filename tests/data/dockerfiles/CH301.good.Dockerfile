FROM debian:bookworm
ENV TOOL_SHA256=3f1c
RUN set -eux; \
    curl -fsSLO https://example.org/tool-1.0.tar.gz; \
    echo "$TOOL_SHA256 *tool-1.0.tar.gz" | sha256sum -c -; \
    tar -xzf tool-1.0.tar.gz -C /opt
HEALTHCHECK CMD true
USER app
