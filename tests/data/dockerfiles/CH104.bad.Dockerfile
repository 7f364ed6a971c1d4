FROM someuser/tools:1.0
HEALTHCHECK CMD true
USER app
