# Stand-in for the official `redis:7` image where no registry can be reached (`make test-compose`), built on the
# local Debian bookworm base with Debian's Redis 7. Like the official image: port 6379, `redis-server` arguments
# as the command, protected mode off when no configuration file is given (the network is the boundary), the working
# directory /data, `redis-cli ping` for the healthcheck. It runs as `redis`, never root.
ARG BASE_IMAGE=marketplace-base:bookworm
FROM ${BASE_IMAGE}

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
COPY deploy/images/redis-entrypoint.sh /usr/local/bin/redis-entrypoint.sh

WORKDIR /data
USER redis
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/redis-entrypoint.sh"]
CMD ["redis-server"]
