FROM debian:bookworm
RUN curl -fsSL -o install.sh https://example.org/install.sh \
 && echo "0123  install.sh" | sha256sum -c - \
 && sh install.sh
HEALTHCHECK CMD true
USER app
