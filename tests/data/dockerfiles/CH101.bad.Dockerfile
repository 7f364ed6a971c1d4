FROM quay.example.net/team/base:1.2
HEALTHCHECK CMD true
USER app
