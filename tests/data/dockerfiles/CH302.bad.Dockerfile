FROM debian:bookworm
RUN curl -fsSL https://example.org/install.sh | sh
HEALTHCHECK CMD true
USER app
