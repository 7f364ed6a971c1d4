FROM python:3.12-slim
HEALTHCHECK CMD true
USER app
