FROM debian:bookworm
RUN echo 'deb https://apt.example.org/debian bookworm main' > /etc/apt/sources.list.d/x.list
HEALTHCHECK CMD true
USER app
