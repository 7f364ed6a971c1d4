FROM debian:bookworm
RUN apt-get update && apt-get dist-upgrade -y
HEALTHCHECK CMD true
USER app
