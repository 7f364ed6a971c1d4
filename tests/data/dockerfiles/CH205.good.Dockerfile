FROM python:3.12-slim
RUN pip install requests==2.32.3
HEALTHCHECK CMD true
USER app
