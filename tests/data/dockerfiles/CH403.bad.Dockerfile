FROM alpine:3.20
ARG NPM_TOKEN
RUN echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > .npmrc
HEALTHCHECK CMD true
USER app
